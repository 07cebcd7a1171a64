import Export
import Foundation
import LlamaCpp

/// llama.cpp's own speed on a row's exported model: the row's deployed model (its model stage's
/// `deployed.gguf`) written as llama.cpp GGUF (`LlamaCppExport`, into a scratch folder removed
/// afterwards) and timed by `llama-bench` — prefill of `promptTokens` tokens
/// (`prefillTokensPerSecond`, llama-bench's pp) and batch-1 decode of `generatedTokens` tokens
/// after a `promptTokens`-token context (`decodeTokensPerSecond`, its tg at that depth: the question
/// `DecodeSpeed` answers for qaft), on `threads` threads, each the mean of `repetitions` timed runs.
/// Stages run one at a time, so the machine is as quiet as for qaft's own measurement.
///
/// The key holds the deployed model (the input's key), these settings and `llamaCpp`, the pinned
/// llama.cpp source (`LlamaCppBuild.pinnedSource`), not the executable, which is looked up when
/// the cell runs (`LlamaCppBuild.llamaBench`): without one the stage fails and nothing is cached.
/// A model llama.cpp cannot run as qaft deploys it is not measured, needs no build, and says why
/// in `notes["notMeasured"]`: the export's own refusal (NF4, fp weak columns, groups not a
/// multiple of 32), a model without GGUF tokenizer keys (llama.cpp loads none), or an unmerged
/// adapter ("4&16" rows), which llama-bench at the pinned llama.cpp cannot apply (it takes no `--lora`).
public struct LlamaCppSpeedStage: Stage {
    public static let kindName = "evaluate-llama-cpp-speed"
    /// The note of a cell this stage could not measure, shown in the report beside the empty cell.
    public static let notMeasured = "notMeasured"
    public var kind: String { Self.kindName }
    public var version: String { "2" }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { [] }
    public var isStochastic: Bool { false }

    public init() {}

    public struct Settings: Codable, Sendable, Equatable {
        public var promptTokens: Int
        public var generatedTokens: Int
        public var threads: Int
        public var repetitions: Int
        /// The llama.cpp source llama-bench is built from: `LlamaCppBuild.pinnedSource`, the only one
        /// the Makefile builds.
        public var llamaCpp: String
    }

    public func check(_ s: Settings) throws {
        try StageParameterError.require("promptTokens", s.promptTokens, in: 1...1 << 16)
        try StageParameterError.require("generatedTokens", s.generatedTokens, in: 1...1 << 16)
        try StageParameterError.require("threads", s.threads, in: 1...1024)
        try StageParameterError.require("repetitions", s.repetitions, in: 1...1000)
        if s.llamaCpp != LlamaCppBuild.pinnedSource {
            throw StageParameterError(field: "llamaCpp", value: s.llamaCpp,
                                      reason: "llama.cpp is built from \(LlamaCppBuild.pinnedSource) only (the Makefile's pin)")
        }
    }

    public func run(_ s: Settings, _ context: StageContext) throws -> StageOutput {
        defer { context.progress(1, 1) }
        func notMeasured(_ reason: String) -> StageOutput { StageOutput(notes: [Self.notMeasured: reason]) }
        guard let deployed = try? ModelArtifact.deployedFile(try context.input("model")) else {
            return notMeasured("the row has no deployed model (no quantize or fine-tune stage)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-llama-bench-\(context.key.short)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let gguf = scratch.appendingPathComponent("model.gguf")
        let (model, tokenizer) = try DeployedSource.read(deployed)
        let report: LlamaCppExport.Report
        do { report = try LlamaCppExport.write(model, to: gguf, metadata: tokenizer) } catch let e as ExportError {
            return notMeasured("not exportable to llama.cpp: \(e)")
        }
        // llama.cpp loads no model without its vocabulary keys, which a llama2.c source never had.
        guard tokenizer.contains(where: { $0.0 == "tokenizer.ggml.model" }) else {
            return notMeasured("the model carries no GGUF tokenizer (tokenizer.ggml.model; a llama2.c source), which llama.cpp needs to load it")
        }
        if report.adapter != nil {
            return notMeasured("a model with an unmerged fp adapter (\"4&16\"): llama-bench of the pinned llama.cpp takes no --lora, "
                               + "so the adapter path is not measured")
        }
        let bench = LlamaBench(executable: try LlamaCppBuild.llamaBench(for: context.label), threads: s.threads, repetitions: s.repetitions)
        let prefill = try bench.run(.prefill(s.promptTokens), model: gguf)
        context.progress(1, 2)
        let decode = try bench.run(.decode(s.generatedTokens, after: s.promptTokens), model: gguf)
        return StageOutput(
            metrics: ["prefillTokensPerSecond": prefill.tokensPerSecond, "prefillStandardDeviation": prefill.standardDeviation,
                      "decodeTokensPerSecond": decode.tokensPerSecond, "decodeStandardDeviation": decode.standardDeviation,
                      "exportExact": report.exact ? 1 : 0],
            notes: ["llamaCpp": s.llamaCpp, "llamaBench": bench.executable.path, "llamaCppBuild": decode.build, "modelType": decode.modelType])
    }
}
