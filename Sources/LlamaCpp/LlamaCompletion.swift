import Foundation

/// llama.cpp's generation tool, `llama-completion`, as a timer for a base model with a LoRA
/// adapter (`--lora`), which llama-bench of the pinned llama.cpp cannot load. Each of
/// `repetitions` runs (after llama-completion's own warm-up) prefills the prompt in one batch and
/// decodes greedily, on `threads` threads; its perf lines give the prefill rate ("prompt eval time
/// = … ms / N tokens") and the decode rate ("eval time = … ms / N runs": one-token steps after the
/// prompt, llama-bench's tg at the prompt's depth). Means and standard deviations over the runs,
/// as llama-bench reports its `avg_ts` and `stddev_ts`.
public struct LlamaCompletion: Sendable {
    public let executable: URL
    public let threads: Int
    public let repetitions: Int

    public init(executable: URL, threads: Int = 2, repetitions: Int = 5) {
        self.executable = executable
        self.threads = threads
        self.repetitions = repetitions
    }

    /// One run's perf lines.
    public struct Timing: Sendable, Equatable {
        public var promptTokens: Int
        public var promptMilliseconds: Double
        public var decodeSteps: Int
        public var decodeMilliseconds: Double

        public var prefillTokensPerSecond: Double { Double(promptTokens) / promptMilliseconds * 1000 }
        public var decodeTokensPerSecond: Double { Double(decodeSteps) / decodeMilliseconds * 1000 }

        /// The timing in llama-completion's log (its stderr).
        public static func parse(_ log: String) throws -> Timing {
            func match(_ pattern: String) throws -> (Double, Int) {
                let regex = try Regex(pattern)
                guard let m = log.firstMatch(of: regex), let ms = m.output[1].substring.flatMap({ Double($0) }),
                      let n = m.output[2].substring.flatMap({ Int($0) }), ms > 0, n > 0 else {
                    throw LlamaBench.Failure("llama-completion's log has no positive timing line matching \(pattern)")
                }
                return (ms, n)
            }
            let prompt = try match(#"prompt eval time =\s*([0-9.]+) ms /\s*([0-9]+) tokens"#)
            let decode = try match(#"[^t] eval time =\s*([0-9.]+) ms /\s*([0-9]+) runs"#)
            return Timing(promptTokens: prompt.1, promptMilliseconds: prompt.0, decodeSteps: decode.1, decodeMilliseconds: decode.0)
        }
    }

    /// The command line: greedy, `steps` + 1 tokens generated (the first comes from the prefill's
    /// logits, so `steps` one-token evaluations are timed), end of text ignored, no chat template.
    public func arguments(model: URL, adapter: URL, prompt: String, steps: Int) -> [String] {
        ["-m", model.path, "--lora", adapter.path, "-p", prompt, "-n", "\(steps + 1)", "--ignore-eos", "--temp", "0",
         "-t", "\(threads)", "-no-cnv", "--perf", "--simple-io"]
    }

    /// Times `model` with `adapter`: prefill of `prompt`, which must be `promptTokens` tokens to
    /// llama.cpp, and `steps` decode steps after it; (prefill, decode) as llama-bench would report them.
    public func run(model: URL, adapter: URL, prompt: String, promptTokens: Int, steps: Int) throws -> (prefill: LlamaBenchResult, decode: LlamaBenchResult) {
        for file in [executable, model, adapter] where !FileManager.default.fileExists(atPath: file.path) {
            throw LlamaBench.Failure("llama-completion: \(file.path) does not exist")
        }
        var runs: [Timing] = []
        for _ in 0..<repetitions {
            let log = try ToolRun.run(executable, arguments(model: model, adapter: adapter, prompt: prompt, steps: steps)).log
            let t = try Timing.parse(log)
            guard t.promptTokens == promptTokens, t.decodeSteps == steps else {
                throw LlamaBench.Failure("llama-completion timed \(t.promptTokens) prompt tokens and \(t.decodeSteps) decode steps, "
                                         + "not \(promptTokens) and \(steps)")
            }
            runs.append(t)
        }
        func result(_ rates: [Double]) -> LlamaBenchResult {
            let mean = rates.reduce(0, +) / Double(rates.count)
            let variance = rates.count > 1 ? rates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rates.count - 1) : 0
            // Its log at the default verbosity names neither the model type nor the build.
            return LlamaBenchResult(tokensPerSecond: mean, standardDeviation: variance.squareRoot(), modelType: "", build: "")
        }
        return (result(runs.map(\.prefillTokensPerSecond)), result(runs.map(\.decodeTokensPerSecond)))
    }
}
