import Foundation
import Models

/// Brings a model file (and its tokenizer, for llama2.c) into the artifact store under fixed
/// names, after checking that it loads. Downstream stages open models only through
/// `ModelArtifact.open`, so every model they see is content-addressed and checksummed.
public struct LoadModelStage: Stage {
    public static let kindName = "load-model"
    public var kind: String { Self.kindName }
    public var version: String { "1" }
    public var inputNames: [String] { [] }
    public var fileNames: [String] { ["model"] }
    public var isStochastic: Bool { false }

    public init() {}

    public func check(_ settings: NoSettings) throws {}

    public func run(_ settings: NoSettings, _ context: StageContext) throws -> StageOutput {
        let source = try context.file("model")
        let fm = FileManager.default
        let model = context.artifactDirectory.appendingPathComponent(Self.fileName("model", like: source))
        try fm.copyItem(at: source, to: model)
        var tokenizer: URL?
        if let t = context.files["tokenizer"] {
            tokenizer = context.artifactDirectory.appendingPathComponent(Self.fileName("tokenizer", like: t))
            try fm.copyItem(at: t, to: tokenizer!)
        }
        let c = try ModelLoader.load(model, tokenizer: tokenizer).config
        context.progress(1, 1)
        return StageOutput(metrics: ["layers": Double(c.layerCount), "dim": Double(c.dim), "hidden": Double(c.hiddenDim),
                                     "vocab": Double(c.vocabSize), "context": Double(c.contextLength)],
                           notes: ["format": "\(try ModelLoader.format(of: model))"])
    }

    /// `model.gguf`, `tokenizer.json`, …: fixed names, so the artifact digest depends on contents only.
    static func fileName(_ base: String, like source: URL) -> String {
        source.pathExtension.isEmpty ? base : base + "." + source.pathExtension
    }
}
