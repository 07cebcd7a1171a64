import Foundation

/// The llama.cpp that `evaluate-llama-cpp-speed` columns (`LlamaCppSpeedStage`) measure with.
///
/// Their keys name the pinned source only (`pinnedSource`), never whether a build exists, where,
/// or its bytes (which differ between builds of the same source): a plan is the same in every
/// clone and environment, so `qaft status` judges the speed figures as it judges any report. The
/// executable is looked up when a cell runs (`llamaBench`); a run without one stops there, naming
/// where it looked, and caches nothing for that cell.
public enum LlamaCppBuild {
    /// The source llama.cpp is built from: the Makefile's `LLAMA_CPP_SDIST` and `LLAMA_CPP_SHA256`
    /// (a test checks that the two agree).
    public static let pinnedSource = "llama-cpp-python==0.3.36 sha256:832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
    /// Names the llama-bench executable, when it is not where the Makefile builds it.
    public static let benchVariable = "QAFT_LLAMA_BENCH"
    /// Where `make llama-cpp` builds llama-bench, relative to the repository (the working directory of a run).
    public static let defaultBench = ".cache/llama.cpp/build/bin/llama-bench"

    /// The llama-bench executable: `$QAFT_LLAMA_BENCH` when set, else `defaultBench`; throws, as
    /// a failure of `stage`, naming the path (and how to build it) when it is not an executable.
    public static func llamaBench(for stage: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        let named = environment[benchVariable].flatMap { $0.isEmpty ? nil : $0 }
        let path = named ?? defaultBench
        guard FileManager.default.isExecutableFile(atPath: path) else {
            let origin = named == nil ? "\(benchVariable) is not set and" : "\(benchVariable) names"
            throw PipelineError.stageFailed(stage: stage,
                                            reason: "no llama-bench: \(origin) \(path) is not an executable (`make llama-cpp` builds it from \(pinnedSource))")
        }
        return URL(fileURLWithPath: path)
    }
}
