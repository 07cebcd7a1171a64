import Evaluation
import Foundation
import Models
import Training

/// GSM8K exact-match accuracy by greedy generation (LoTA-QAF's task-specific column,
/// spec/lota-qaf.md §2.2 and §3): each test problem is prompted exactly as the fine-tuning data
/// renders it (`InstructionData.gsm8kPrompt`, no chat template, BOS as the tokenizer adds it),
/// continued greedily with the KV cache to EOS or `maxLength` tokens in all, and scored by the
/// text after its last "####" (`FinalAnswer`; see `GenerationProtocol` for every rule).
///
/// Parameters: `items` (0 = all 1,319; else a seeded subset of that many, drawn with `subsetSeed`,
/// default 1234), `maxLength` (prompt + generation, default 512, the paper's). Files: `checksums`
/// (the data folder's SHA256SUMS) and `data`, the test file inside that folder (verified against
/// the list; naming it in the manifest lets the planner reject a missing file before anything runs).
///
/// Metrics: `accuracy` and `accuracy_stderr`, `items`, `answered` (share of predictions with a
/// "####" at all: whether the fine-tuning taught the answer format), `stoppedAtEOS` (share that ended
/// before the length cap), `generatedTokens` (mean per item), `tokensPerSecond`. Series `accuracy`:
/// every item's 0/1 in item order, for paired tests between rows. The artifact `gsm8k.json` holds
/// the whole `GenerationRun`: each item's prediction text, extracted answer and verdict. Records are
/// checkpointed every `checkpointInterval`, so a killed run resumes at the next unanswered item.
public struct GSM8KStage: Stage {
    public static let kindName = "evaluate-gsm8k"
    public var kind: String { Self.kindName }
    /// This stage's revision, then the protocol's version (`GenerationProtocol.currentVersion`).
    public var version: String { "1+" + GenerationProtocol.currentVersion }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { ["checksums", "data"] }
    public var isStochastic: Bool { false }

    static let artifactName = "gsm8k.json"
    /// Items take seconds each; a durable save costs milliseconds.
    static let checkpointInterval: TimeInterval = 10

    public init() {}

    /// The protocol for prompts rendered by the fine-tuning data's GSM8K template, so the model is
    /// asked in the form it was trained on.
    public static func evaluationProtocol(maxLength: Int = 512) -> GenerationProtocol {
        GenerationProtocol(gsm8kPromptTemplate: InstructionData.gsm8kPrompt(question: GenerationProtocol.questionPlaceholder),
                           maxLength: maxLength)
    }

    public struct Settings: Codable, Sendable {
        public var items, subsetSeed, maxLength: Int?
    }

    public func check(_ s: Settings) throws {
        try StageParameterError.require("items", s.items, in: 0...1 << 20)
        try StageParameterError.require("subsetSeed", s.subsetSeed, in: 0...Int.max)
        try StageParameterError.require("maxLength", s.maxLength, in: 2...1 << 20)
    }

    public func run(_ s: Settings, _ context: StageContext) throws -> StageOutput {
        let (count, seed, maxLength) = (s.items ?? 0, UInt64(s.subsetSeed ?? 1234), s.maxLength ?? 512)
        let rules = Self.evaluationProtocol(maxLength: maxLength)
        let selection: ItemSelection = count > 0
            ? .subset(GSM8K.subset(count: count, seed: seed)) : .all
        // The items before the model: a missing or altered data file fails at once, naming the file.
        let data = try DataDirectory(root: try context.file("checksums").deletingLastPathComponent())
        let file = try Self.path(of: try context.file("data"), inside: data.root, stage: context.label)
        let items = try GSM8K.select(try GSM8K.items(from: data, file: file), selection)

        let loaded = try ModelArtifact.open(try context.input("model"))
        let evaluator = GenerationEvaluator(model: Llama(loaded.weights), tokenizer: loaded.tokenizer, evaluationProtocol: rules)
        let done = try context.checkpoint.load([GenerationRecord].self, as: "records") ?? []
        if !done.isEmpty { context.resumed(done.count) }
        let started = Date()
        var lastSave = started, tokens = 0, correct = done.filter(\.correct).count
        let run = try evaluator.run(items, selection: selection, model: "stage \(context.key.hex.prefix(12))",
                                    resumingFrom: done) { records in
            let last = records[records.count - 1]
            tokens += last.generatedTokens
            if last.correct { correct += 1 }
            if Date().timeIntervalSince(lastSave) >= Self.checkpointInterval, records.count < items.count {
                try context.checkpoint.save(records, as: "records")
                lastSave = Date()
            }
            let elapsed = max(Date().timeIntervalSince(started), 1e-9)
            context.progress(records.count, items.count,
                             String(format: "%.2f items/s · %.0f tokens/s · %d/%d correct",
                                    Double(records.count - done.count) / elapsed, Double(tokens) / elapsed, correct, records.count))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(run).write(to: context.artifactDirectory.appendingPathComponent(Self.artifactName))

        let n = Double(max(run.samples.count, 1))
        var out = StageOutput(
            metrics: ["accuracy": run.accuracy, "items": Double(run.samples.count),
                      "answered": Double(run.samples.filter(\.hasMarker).count) / n,
                      "stoppedAtEOS": Double(run.samples.filter(\.stoppedAtEOS).count) / n,
                      "generatedTokens": Double(run.samples.reduce(0) { $0 + $1.generatedTokens }) / n,
                      "tokensPerSecond": Double(tokens) / max(Date().timeIntervalSince(started), 1e-9)],
            series: ["accuracy": run.scores],
            notes: ["selection": selection.canonical, "protocol": rules.canonical])
        if let se = run.stderr { out.metrics["accuracy_stderr"] = se }
        return out
    }

    /// `url`'s path relative to the data folder `root` (where the checksum list names it).
    static func path(of url: URL, inside root: URL, stage: String) throws -> String {
        let folder = root.standardizedFileURL.path + "/", file = url.standardizedFileURL.path
        guard file.hasPrefix(folder) else {
            throw PipelineError.stageFailed(stage: stage, reason: "data file \(file) is outside \(folder), the folder of its checksum list")
        }
        return String(file.dropFirst(folder.count))
    }
}
