import Export
import Foundation
import LlamaCpp
import Models

/// llama.cpp's own speed on a row's exported model: the row's deployed model (its model stage's
/// `deployed.gguf`) written as llama.cpp GGUF (`LlamaCppExport`, into a scratch folder removed
/// afterwards) and timed by `llama-bench` — prefill of `promptTokens` tokens
/// (`prefillTokensPerSecond`, llama-bench's pp) and batch-1 decode of `generatedTokens` tokens
/// after a `promptTokens`-token context (`decodeTokensPerSecond`, its tg at that depth: the question
/// `DecodeSpeed` answers for qaft), on `threads` threads, each the mean of `repetitions` timed runs.
/// Stages run one at a time, so the machine is as quiet as for qaft's own measurement; the share
/// of the cores other processes took meanwhile is recorded beside both rates (`MachineLoad`).
///
/// The key holds the deployed model (the input's key), these settings and `llamaCpp`, the pinned
/// llama.cpp source (`LlamaCppBuild.pinnedSource`), not the executable, which is looked up when
/// the cell runs (`LlamaCppBuild.llamaBench`): without one the stage fails and nothing is cached.
/// A model with an unmerged adapter ("4&16" rows) is timed by `llama-completion --lora`
/// (`LlamaCompletion`: llama-bench at the pinned llama.cpp takes no `--lora`) on a prompt of
/// `promptTokens` tokens of `promptText`, the same two rates. A model llama.cpp cannot run as
/// qaft deploys it is not measured, needs no build, and says why in `notes["notMeasured"]`: the
/// export's own refusal (NF4, fp weak columns, groups not a multiple of 32, a model without GGUF
/// tokenizer keys).
public struct LlamaCppSpeedStage: Stage {
    public static let kindName = "evaluate-llama-cpp-speed"
    /// The note of a cell this stage could not measure, shown in the report beside the empty cell.
    public static let notMeasured = "notMeasured"
    public var kind: String { Self.kindName }
    public var version: String { "3" }
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
        let llamaBench = try LlamaCppBuild.llamaBench(for: context.label)
        let load = MachineLoad.now()
        let prefill: LlamaBenchResult, decode: LlamaBenchResult, tool: String
        if let adapter = report.adapter {
            let completion = LlamaCompletion(executable: llamaBench.deletingLastPathComponent().appendingPathComponent("llama-completion"),
                                             threads: s.threads, repetitions: s.repetitions)
            let prompt = try Self.prompt(tokens: s.promptTokens, tokenizer: ModelLoader.loadTokenizer(gguf))
            (prefill, decode) = try completion.run(model: gguf, adapter: adapter, prompt: prompt, promptTokens: s.promptTokens, steps: s.generatedTokens)
            tool = "llama-completion --lora"
        } else {
            let bench = LlamaBench(executable: llamaBench, threads: s.threads, repetitions: s.repetitions)
            prefill = try bench.run(.prefill(s.promptTokens), model: gguf)
            context.progress(1, 2)
            decode = try bench.run(.decode(s.generatedTokens, after: s.promptTokens), model: gguf)
            tool = "llama-bench"
        }
        var metrics = ["prefillTokensPerSecond": prefill.tokensPerSecond, "prefillStandardDeviation": prefill.standardDeviation,
                       "decodeTokensPerSecond": decode.tokensPerSecond, "decodeStandardDeviation": decode.standardDeviation,
                       "exportExact": report.exact ? 1 : 0]
        MachineLoad.record(since: load, for: ["prefillTokensPerSecond", "decodeTokensPerSecond"], in: &metrics)
        return StageOutput(
            metrics: metrics,
            notes: ["llamaCpp": s.llamaCpp, "tool": tool, "llamaCppBuild": decode.build, "modelType": decode.modelType])
    }

    /// The prompt llama-completion prefills: the first `tokens` tokens of `promptText` (the BOS
    /// token, when the tokenizer adds one, among them), as text, which llama.cpp tokenizes back.
    static func prompt(tokens: Int, tokenizer: any Tokenizer) throws -> String {
        let count = tokens - (tokenizer.addsBOSByDefault ? 1 : 0)
        let ids = tokenizer.encode(promptText)
        guard ids.count >= count else {
            throw StageParameterError(field: "promptTokens", value: "\(tokens)", reason: "the timing prompt has only \(ids.count) tokens")
        }
        return tokenizer.decode(Array(ids.prefix(count)))
    }

    /// Plain English prose, long enough for a 64-token prompt in any tokenizer of the families qaft loads.
    static let promptText = """
        The old harbour town wakes slowly in winter. Before sunrise the fishing boats leave one by one, their lamps \
        swinging above the dark water, while the bakers on the hill light their ovens and the first buses climb the \
        narrow streets toward the station. By the time the market opens, the square is full of people buying bread, \
        apples and coffee, talking about the weather, the price of fuel and the football match of the night before. \
        In the afternoon the wind turns, clouds come in from the sea, and the children walk home from school along \
        the sea wall, counting the ships that wait outside the harbour for the tide to rise.
        """
}
