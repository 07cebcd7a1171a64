/// Failures of the pipeline machinery (as opposed to a stage's own errors, which pass through).
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// A manifest field is wrong; raised while planning, before any computation.
    case manifest(manifest: String, source: String, field: String, value: String, reason: String)
    case unknownTarget(String, known: [String])
    /// No model-producing stage of a target answers to a row name.
    case unknownRow(String, target: String, known: [String])
    case missingInput(stage: String, input: String)
    case cache(path: String, reason: String)
    case artifact(path: String, reason: String)
    case stageFailed(stage: String, reason: String)
    /// A Slurm client command failed (its message), or a job ended without its result.
    case slurm(command: String, reason: String)

    public var description: String {
        switch self {
        case let .manifest(manifest, source, field, value, reason):
            return "manifest \(manifest) (\(source)): \(field) = \(value): \(reason)"
        case let .unknownTarget(t, known):
            return "unknown target \(t) (known: \(known.joined(separator: ", ")))"
        case let .unknownRow(row, target, known):
            return "unknown row \(row) of \(target) (its model rows: \(known.joined(separator: ", ")))"
        case let .missingInput(stage, input):
            return "stage \(stage): input \(input) is not wired"
        case let .cache(path, reason):
            return "cache \(path): \(reason)"
        case let .artifact(path, reason):
            return "artifact \(path): \(reason)"
        case let .stageFailed(stage, reason):
            return "stage \(stage): \(reason)"
        case let .slurm(command, reason):
            return "slurm: \(command): \(reason)"
        }
    }
}
