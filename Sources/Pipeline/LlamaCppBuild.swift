import Foundation

/// The llama.cpp build that `evaluate-llama-cpp-speed` columns (`LlamaCppSpeedStage`) measure
/// with, as the environment names it: `$QAFT_LLAMA_BENCH`, the llama-bench executable, and
/// `$QAFT_LLAMA_CPP`, the pinned source it was built from (the Makefile sets both, after building
/// llama.cpp from that source); or why there is none, which the columns then show.
public enum LlamaCppBuild: Sendable, Equatable {
    case built(llamaBench: String, source: String)
    case unavailable(String)

    public static let benchVariable = "QAFT_LLAMA_BENCH"
    public static let sourceVariable = "QAFT_LLAMA_CPP"

    /// The build the variables name, or why they name none.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let bench = environment[Self.benchVariable], !bench.isEmpty else {
            self = .unavailable("no llama.cpp build: \(Self.benchVariable) is not set (`make reproduce-<target>` builds llama.cpp and sets it)")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            self = .unavailable("\(Self.benchVariable)=\(bench) is not an executable (llama.cpp could not be built: see `make llama-cpp`)")
            return
        }
        guard let source = environment[Self.sourceVariable], !source.isEmpty else {
            self = .unavailable("\(Self.sourceVariable), the llama.cpp source \(bench) was built from, is not set")
            return
        }
        self = .built(llamaBench: bench, source: source)
    }

    /// `spec` (an `evaluate-llama-cpp-speed` column) measuring with this build: its `llamaCpp`
    /// parameter and llama-bench file, or its `unavailable` reason. Other columns are returned as they are.
    public func applied(to spec: EvaluationSpec) -> EvaluationSpec {
        guard spec.kind == LlamaCppSpeedStage.kindName else { return spec }
        var s = spec
        s.parameters["llamaCpp"] = nil
        s.parameters["unavailable"] = nil
        s.files[LlamaCppSpeedStage.benchFile] = nil
        switch self {
        case .built(let bench, let source):
            s.parameters["llamaCpp"] = .string(source)
            s.files[LlamaCppSpeedStage.benchFile] = bench
        case .unavailable(let reason):
            s.parameters["unavailable"] = .string(reason)
        }
        return s
    }
}
