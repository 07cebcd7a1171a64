/// Every way an export can be refused, each naming what and why.
public enum ExportError: Error, Equatable, CustomStringConvertible {
    /// A projection no deployed form holds.
    case unsupportedLayer(site: String, reason: String)
    /// A file that is not a deployed model, or is damaged.
    case invalidFile(file: String, reason: String)
    /// A projection the target format cannot represent exactly.
    case unrepresentable(site: String, format: String, reason: String)
    /// A model the target runtime would compute differently.
    case unsupportedModel(format: String, reason: String)
    /// A format not built.
    case unknownFormat(String)
    /// The output already exists (an export never replaces a file or folder).
    case destinationExists(path: String)

    public var description: String {
        switch self {
        case .unsupportedLayer(let site, let reason):
            return "\(site): \(reason)"
        case .invalidFile(let file, let reason):
            return "\(file): \(reason)"
        case .unrepresentable(let site, let format, let reason):
            return "\(site): cannot be exported to \(format) exactly: \(reason)"
        case .unsupportedModel(let format, let reason):
            return "cannot export to \(format): \(reason)"
        case .unknownFormat(let f):
            return "export format \(f) is not built"
        case .destinationExists(let p):
            return "\(p) already exists; remove it or choose another output path"
        }
    }
}
