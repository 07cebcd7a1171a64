import Export
import Foundation
import Models

/// qaft's own speed on a row's model in the form it is deployed in (`DeployedModel.decodingLlama`:
/// merged integer layers on the packed low-bit kernels, QEFT's mixed layout, NF4 dequantized per
/// product, an unmerged adapter beside its base, float weights dense); a row without a deployed
/// model (the float model itself) runs densely in fp32:
/// - `steps` > 0: batch-1 greedy decode of that many tokens after a `promptTokens`-token prompt
///   (`DecodeSpeed.tokensPerSecond`, the prefill timed apart and subtracted), single-row products
///   at `activations` precision (`float32` by default, or `int8`), as `decodeTokensPerSecond` —
///   the speed axis of the Pareto figures;
/// - `throughputBatches`: batched greedy decode of that many sequences together
///   (`DecodeSpeed.throughput`, L4Q Table 12's question), as `throughputBatch<B>` tokens per second.
///
/// A stage of its own, keyed by the row's model and these settings only, so a speed figure shares
/// its rows' fine-tunes and evaluations with the tables (same keys) and `qaft reproduce --retime`
/// times a model again in seconds, without training it again. Stages run one at a time, so the
/// machine is as quiet as the run leaves it; the share of the cores other processes took meanwhile
/// is recorded beside every speed (`MachineLoad`).
public struct DecodeSpeedStage: Stage {
    public static let kindName = "evaluate-decode-speed"
    public var kind: String { Self.kindName }
    /// 2: batched decode steps of up to `DecodeSpeed.rowByRowBatch` sequences run row by row on
    /// the packed single-row kernels (were dequantize-then-sgemm: batch 2 at a quarter of batch 1).
    public var version: String { "2" }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { [] }
    public var isStochastic: Bool { false }

    public init() {}

    public struct Settings: Codable, Sendable, Equatable {
        public var promptTokens: Int
        /// Batch-1 decode steps timed (0 or absent: not measured).
        public var steps: Int?
        public var activations: ActivationPrecision?
        public var throughputBatches: [Int]?
    }

    public func check(_ s: Settings) throws {
        try StageParameterError.require("promptTokens", s.promptTokens, in: 1...1 << 16)
        try StageParameterError.require("steps", s.steps, in: 0...4096)
        for (i, b) in (s.throughputBatches ?? []).enumerated() { try StageParameterError.require("throughputBatches[\(i)]", b, in: 1...1024) }
        if (s.steps ?? 0) == 0, (s.throughputBatches ?? []).isEmpty {
            throw StageParameterError(field: "steps", value: "\(s.steps ?? 0)", reason: "nothing to time: set steps > 0 or throughputBatches")
        }
    }

    public func run(_ s: Settings, _ context: StageContext) throws -> StageOutput {
        defer { context.progress(1, 1) }
        let record = try context.input("model")
        let model: Llama
        if let deployed = try? ModelArtifact.deployedFile(record) {
            model = try DeployedSource.read(deployed).model.decodingLlama()
        } else {
            model = Llama(try ModelArtifact.open(record).weights)
        }
        let vocabulary = model.config.vocabSize
        let steps = s.steps ?? 0, batches = s.throughputBatches ?? []
        guard s.promptTokens + steps <= model.config.contextLength else {
            throw StageParameterError(field: "promptTokens", value: "\(s.promptTokens)",
                                      reason: "with \(steps) steps it passes the model's context of \(model.config.contextLength) tokens")
        }
        // A fixed spread of token ids: speed does not depend on which tokens they are.
        let prompt = (0..<s.promptTokens).map { 1 + $0 * 97 % (vocabulary - 1) }
        var metrics: [String: Double] = [:]
        let load = MachineLoad.now()
        if steps > 0 {
            metrics["decodeTokensPerSecond"] = try DecodeSpeed.tokensPerSecond(model, prompt: prompt, steps: steps,
                                                                               activations: s.activations ?? .float32)
        }
        for (i, b) in batches.enumerated() {
            context.progress(i, batches.count, "batch \(b)")
            metrics["throughputBatch\(b)"] = try DecodeSpeed.throughput(model, batch: b, prompt: prompt)
        }
        MachineLoad.record(since: load, for: Array(metrics.keys), in: &metrics)
        return StageOutput(metrics: metrics)
    }
}
