import Foundation

/// llama.cpp's own speed benchmark, `llama-bench`, as a subprocess: one test per run (prefill of
/// `prompt` tokens, or generation of `generated` tokens after `depth` tokens already in the KV
/// cache), on `threads` threads, `repetitions` timed runs after llama-bench's warm-up run, read
/// from its JSON output (`LlamaBenchResult`).
public struct LlamaBench: Sendable {
    public let executable: URL
    public let threads: Int
    public let repetitions: Int

    /// One llama-bench test: llama-bench's `pp<prompt>` (prefill, batch of `prompt` tokens) or
    /// `tg<generated>` (batch-1 decode of `generated` tokens) after `depth` tokens of context.
    public struct Test: Sendable, Equatable {
        public var prompt: Int
        public var generated: Int
        public var depth: Int

        public init(prompt: Int, generated: Int, depth: Int) {
            self.prompt = prompt
            self.generated = generated
            self.depth = depth
        }

        /// Prefill of `tokens` tokens from an empty context.
        public static func prefill(_ tokens: Int) -> Test { Test(prompt: tokens, generated: 0, depth: 0) }
        /// Decode of `tokens` tokens after `context` tokens: qaft's `DecodeSpeed` question.
        public static func decode(_ tokens: Int, after context: Int) -> Test { Test(prompt: 0, generated: tokens, depth: context) }
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public init(executable: URL, threads: Int = 2, repetitions: Int = 5) {
        self.executable = executable
        self.threads = threads
        self.repetitions = repetitions
    }

    /// The command line of `test` on `model`. There is no LoRA adapter parameter: llama-bench at
    /// the pinned llama.cpp takes no `--lora`.
    public func arguments(_ test: Test, model: URL) -> [String] {
        ["-m", model.path, "-p", "\(test.prompt)", "-n", "\(test.generated)", "-d", "\(test.depth)",
         "-t", "\(threads)", "-r", "\(repetitions)", "-o", "json"]
    }

    /// Runs `test` on `model`; a failed run, or output without that test's line, throws a
    /// `Failure` naming the executable, its status and the start of what it printed.
    public func run(_ test: Test, model: URL) throws -> LlamaBenchResult {
        for file in [executable, model] where !FileManager.default.fileExists(atPath: file.path) {
            throw Failure("llama-bench: \(file.path) does not exist")
        }
        let data = try ToolRun.run(executable, arguments(test, model: model)).output
        return try LlamaBenchResult.parse(data, test: test)
    }
}

/// One test's line of llama-bench's JSON output (`-o json`: an array of objects, one per test).
public struct LlamaBenchResult: Sendable, Equatable {
    /// Mean tokens per second over the timed repetitions (`avg_ts`) and their standard deviation (`stddev_ts`).
    public var tokensPerSecond: Double
    public var standardDeviation: Double
    /// How llama.cpp describes the model (`model_type`, e.g. "llama 256M Q4_1").
    public var modelType: String
    /// The build llama-bench reports (`build_commit`, `build_number`); "unknown" for a build from
    /// a source archive, which carries no git state.
    public var build: String

    /// The line of `test` in llama-bench's JSON `data`.
    public static func parse(_ data: Data, test: LlamaBench.Test) throws -> LlamaBenchResult {
        let start = String(decoding: data.prefix(200), as: UTF8.self)
        guard let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw LlamaBench.Failure("llama-bench output is not a JSON array of tests: \(start)")
        }
        func int(_ row: [String: Any], _ key: String) -> Int? { (row[key] as? NSNumber)?.intValue }
        guard let row = rows.first(where: { int($0, "n_prompt") == test.prompt && int($0, "n_gen") == test.generated
                                            && int($0, "n_depth") == test.depth }) else {
            throw LlamaBench.Failure("llama-bench output has no test with n_prompt \(test.prompt), n_gen \(test.generated), "
                                     + "n_depth \(test.depth) (\(rows.count) test(s))")
        }
        guard let rate = (row["avg_ts"] as? NSNumber)?.doubleValue, rate.isFinite, rate > 0 else {
            throw LlamaBench.Failure("llama-bench test line has no positive avg_ts: \(row["avg_ts"].map { "\($0)" } ?? "missing")")
        }
        let commit = row["build_commit"] as? String ?? "unknown"
        return LlamaBenchResult(tokensPerSecond: rate, standardDeviation: (row["stddev_ts"] as? NSNumber)?.doubleValue ?? 0,
                                modelType: row["model_type"] as? String ?? "", build: "\(commit) (build \(int(row, "build_number") ?? 0))")
    }
}
