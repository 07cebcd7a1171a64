import Export
import Export
import Foundation
import Models
import Quantization

/// The model a stage hands downstream, as files in its artifact directory:
///
/// * `model.<ext>`: the model every evaluation runs — the source file for `load-model`, and for a
///   method stage the exported model's float weights (`Llama.denseWeights`: a fully integer export
///   stored as its dequantized values s·(q − z), which computes the same function) in a float32 GGUF;
/// * `tokenizer.<ext>`, when the format keeps the tokenizer apart (llama2.c); a GGUF carries its own
///   `tokenizer.ggml.*` keys, copied from the source;
/// * `base.gguf`, for a stage that quantized the whole model: the packed `QuantizedModelFile`,
///   which fine-tuning stages built on that row reuse instead of quantizing again;
/// * `deployed.gguf`, for a method stage: the model in the form the method deployed it
///   (`DeployedModelFile`: codes, scales, zeros, adapters, weak columns), what `qaft export` reads.
public enum ModelArtifact {
    static let baseName = "base.gguf"
    static let deployedName = "deployed.gguf"
    static let tokenizerConfigFile = "tokenizer_config.json"

    /// Opens the evaluated model of a model-producing stage.
    public static func open(_ record: StageRecord) throws -> LoadedModel {
        let dir = try directory(record)
        let (model, tokenizer) = try files(dir)
        return try ModelLoader.load(model, tokenizer: tokenizer)
    }

    /// The tokenizer and shape of the model of `record`, and its weights unless `weights` is false
    /// (a merge of evaluation parts reads none), each read once.
    public static func open(_ record: StageRecord, weights: Bool)
        throws -> (tokenizer: any Tokenizer, config: LlamaConfig, weights: LlamaWeights?) {
        if weights {
            let loaded = try open(record)
            return (loaded.tokenizer, loaded.config, loaded.weights)
        }
        let (model, tokenizer) = try files(try directory(record))
        return (try ModelLoader.loadTokenizer(model, tokenizer: tokenizer), try ModelLoader.config(of: model), nil)
    }

    /// The file of the evaluated model of a model-producing stage (`model.gguf` for a method
    /// stage; its tokenizer is inside unless the format keeps it apart, as llama2.c does).
    public static func modelFile(_ record: StageRecord) throws -> URL {
        try files(try directory(record)).model
    }

    /// The packed whole-model quantization file (`QuantizedModelFile`) stored with `record`, if any.
    public static func baseFile(_ record: StageRecord) throws -> URL? {
        let url = try directory(record).appendingPathComponent(baseName)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The deployed-form file (`DeployedModelFile`) stored with a method stage's `record`; a stage
    /// that stored none (not a method stage) is named.
    public static func deployedFile(_ record: StageRecord) throws -> URL {
        let url = try directory(record).appendingPathComponent(deployedName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PipelineError.artifact(path: url.path, reason: "stage \(record.kind) stored no deployed model (only quantize.* and finetune.* stages do)")
        }
        return url
    }

    /// The whole-model quantization stored with `record`, if any.
    public static func quantizedBase(_ record: StageRecord) throws -> QuantizedModel? {
        try baseFile(record).map(QuantizedModelFile.read)
    }

    /// Writes `weights` as the artifact's model, with the tokenizer of `source` (the upstream model
    /// record), `base`, when given, as its packed whole-model quantization, and `deployed`, when
    /// given, as its deployed form.
    static func write(_ weights: LlamaWeights, tokenizerFrom source: StageRecord, base: QuantizedModel?, deployed: DeployedModel? = nil,
                      into dir: URL) throws {
        let (sourceModel, sourceTokenizer) = try files(try directory(source))
        var tokenizerKeys: [(String, GGUFValue)] = []
        var tokenizerFile = sourceTokenizer
        switch try ModelLoader.format(of: sourceModel) {
        case .gguf:
            tokenizerKeys = try GGUFFile(contentsOf: sourceModel).metadata.filter { $0.key.hasPrefix("tokenizer.") }
                .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        case .huggingFace:
            // The folder's tokenizer.json travels beside the float GGUF.
            tokenizerFile = tokenizerFile ?? sourceModel.appendingPathComponent(HuggingFaceLlama.tokenizerFile)
        case .llama2c:
            break
        }
        var writer = try weights.ggufWriter()
        for (k, v) in tokenizerKeys { writer.set(k, v) }
        try writer.write(to: dir.appendingPathComponent("model.gguf"))
        if let tokenizerFile {
            try FileManager.default.copyItem(at: tokenizerFile, to: dir.appendingPathComponent(LoadModelStage.fileName("tokenizer", like: tokenizerFile)))
            // A tokenizer.json reads BOS/EOS from the tokenizer_config.json beside it.
            let config = tokenizerFile.deletingLastPathComponent().appendingPathComponent(tokenizerConfigFile)
            if tokenizerFile.pathExtension == "json", FileManager.default.fileExists(atPath: config.path) {
                try FileManager.default.copyItem(at: config, to: dir.appendingPathComponent(tokenizerConfigFile))
            }
        }
        if let base { try QuantizedModelFile.write(base, to: dir.appendingPathComponent(baseName), metadata: tokenizerKeys) }
        if let deployed { try DeployedModelFile.write(deployed, to: dir.appendingPathComponent(deployedName), metadata: tokenizerKeys) }
    }

    private static func directory(_ record: StageRecord) throws -> URL {
        guard let dir = record.artifactURL else {
            throw PipelineError.artifact(path: record.key.hex, reason: "stage \(record.kind) stored no model")
        }
        return dir
    }

    private static func files(_ dir: URL) throws -> (model: URL, tokenizer: URL?) {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        guard let model = names.first(where: { $0 == "model" || $0.hasPrefix("model.") }) else {
            throw PipelineError.artifact(path: dir.path, reason: "no model file in the artifact")
        }
        let tokenizer = names.first { $0 == "tokenizer" || $0.hasPrefix("tokenizer.") }
        return (dir.appendingPathComponent(model), tokenizer.map { dir.appendingPathComponent($0) })
    }
}
