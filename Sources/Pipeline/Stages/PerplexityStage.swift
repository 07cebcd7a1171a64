import Evaluation
import Foundation
import Models
import Tensor

/// Token perplexity in the GPTQ/OWQ/QEFT convention (spec/eval-protocol.md §3b): the text is
/// tokenized once with the tokenizer's defaults, cut into non-overlapping windows of `window`
/// tokens (the tail is dropped; no extra BOS per window), and PPL = exp(mean over windows of each
/// window's mean NLL over its window − 1 predictions). `maxWindows` (0 = all) takes the first
/// windows only, which is how profiles shorten it. The per-window mean NLLs (perplexity's
/// per-item, order-preserving form) are kept as the series `perplexity`, for standard errors and
/// paired tests. Partial sums are checkpointed between windows (at most every 0.25 s), so a
/// killed run resumes where its last checkpoint stopped. `shard`/`shards` split the windows over
/// jobs (`EvaluationSharding`): a part computes its block of windows (series `perplexity`, those
/// windows only), the merge joins the parts' windows and reports as one job would. `precision`
/// (`fp32`, the default, or `bf16`) is the arithmetic of the products (`ComputePrecision`).
public struct PerplexityStage: Stage {
    public static let kindName = "evaluate-perplexity"
    public var kind: String { Self.kindName }
    public var version: String { "1" }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { ["text"] }
    public var isStochastic: Bool { false }

    /// `plain`: the file is the text. `jsonl-text`: one JSON object per line, the texts of their
    /// `text` fields joined by "\n\n" (how WikiText-2 test is joined in §3b).
    public enum TextFormat: String, Codable, Sendable {
        case plain
        case jsonlText = "jsonl-text"
    }

    public struct Settings: Codable, Sendable {
        public var format: TextFormat
        public var window: Int
        /// 0 = every window.
        public var maxWindows: Int
        public var shard: Shard?
        public var shards: Int?
        /// The scoring products' arithmetic (`ComputePrecision`); unset: fp32.
        public var precision: ComputePrecision?
    }

    static let checkpointInterval: TimeInterval = 0.25

    public init() {}

    public func check(_ s: Settings) throws {
        _ = try EvaluationSharding(shard: s.shard, shards: s.shards)
        try StageParameterError.require("window", s.window, in: 2...1 << 20)
        try StageParameterError.require("maxWindows", s.maxWindows, in: 0...Int.max)
    }

    struct State: Codable {
        var windowNLL: [Double]
    }

    /// Scores in the settings' `precision` (fp32 unless set: the precision lm-eval's numbers are
    /// matched in).
    public func run(_ s: Settings, _ context: StageContext) throws -> StageOutput {
        try ComputePrecision.with(s.precision ?? .fp32) { try score(s, context) }
    }

    private func score(_ s: Settings, _ context: StageContext) throws -> StageOutput {
        let window = s.window, maxWindows = s.maxWindows
        let textURL = try context.file("text")
        let text = try Self.read(textURL, format: s.format)
        let sharding = try EvaluationSharding(shard: s.shard, shards: s.shards)
        let modelRecord = try context.input("model")
        // A merge reads every window's NLL from its parts: it needs the tokenizer, not the weights.
        var (tokenizer, config, weights) = try ModelArtifact.open(modelRecord, weights: !sharding.isMerge)
        guard window <= config.contextLength else {
            throw StageParameterError(field: "window", value: String(window), reason: "exceeds the model's context \(config.contextLength)")
        }
        let tokens = tokenizer.encode(text, addBOS: tokenizer.addsBOSByDefault)
        var count = tokens.count / window
        if maxWindows > 0 { count = min(count, maxWindows) }
        guard count > 0 else {
            throw PipelineError.stageFailed(stage: context.label, reason: "\(textURL.lastPathComponent) has \(tokens.count) tokens, fewer than one window of \(window)")
        }
        var windows = 0..<count
        var state = State(windowNLL: [])
        switch sharding {
        case .whole: break
        case .part(let shard): windows = shard.units(of: count)
        case .merge(let parts):
            state.windowNLL = try EvaluationSharding.parts(parts, context).flatMap { $0.output.series["perplexity"] ?? [] }
            guard state.windowNLL.count == count else {
                throw PipelineError.stageFailed(stage: context.label, reason: "its \(parts) shards hold \(state.windowNLL.count) windows of \(count)")
            }
        }
        if let saved = try context.checkpoint.load(State.self) {
            guard saved.windowNLL.count <= windows.count else {
                throw PipelineError.stageFailed(stage: context.label, reason: "checkpoint has \(saved.windowNLL.count) windows of \(windows.count)")
            }
            state = saved
            if !state.windowNLL.isEmpty { context.resumed(state.windowNLL.count) }
        }
        if state.windowNLL.count < windows.count {
            guard let weights = weights.take() else {
                throw PipelineError.stageFailed(stage: context.label, reason: "a merge has windows left to compute")
            }
            // The weights move into the model: built for bf16, it releases their fp32 copies.
            let model = Llama(consume weights, precision: s.precision ?? .fp32)
            var lastSave = Date()
            while state.windowNLL.count < windows.count {
                let start = (windows.lowerBound + state.windowNLL.count) * window
                let r = try model.windowedNLL(Array(tokens[start..<(start + window)]), window: window)
                state.windowNLL.append(r.totalNLL / Double(r.predicted))
                // A durable save costs two fsyncs (milliseconds), more than a small model's window:
                // save at most every `checkpointInterval`, so a kill loses at most that much work.
                if Date().timeIntervalSince(lastSave) >= Self.checkpointInterval, state.windowNLL.count < windows.count {
                    try context.checkpoint.save(state)
                    lastSave = Date()
                }
                context.progress(state.windowNLL.count, windows.count)
            }
        }
        if case .part(let shard) = sharding {
            return StageOutput(metrics: ["firstWindow": Double(windows.lowerBound), "windows": Double(windows.count)],
                               series: ["perplexity": state.windowNLL], notes: ["shard": shard.description])
        }
        let n = Double(count)
        let mean = state.windowNLL.reduce(0, +) / n
        let variance = count > 1 ? state.windowNLL.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
        let ppl = exp(mean)
        // Delta method: se(exp(m)) ≈ exp(m)·se(m).
        return StageOutput(metrics: ["perplexity": ppl, "perplexity_stderr": ppl * (variance / n).squareRoot(), "nll": mean,
                                     "nll_stderr": (variance / n).squareRoot(), "windows": n, "window": Double(window),
                                     "tokens": Double(tokens.count)],
                           series: ["perplexity": state.windowNLL])
    }

    static func read(_ url: URL, format: TextFormat) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PipelineError.artifact(path: url.path, reason: "unreadable")
        }
        if format == .plain { return String(decoding: data, as: UTF8.self) }
        var texts: [String] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let t = obj["text"] as? String else {
                throw PipelineError.artifact(path: url.path, reason: "line \(i + 1): expected a JSON object with a string \"text\"")
            }
            texts.append(t)
        }
        return texts.joined(separator: "\n\n")
    }
}
