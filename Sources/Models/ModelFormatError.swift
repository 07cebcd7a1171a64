/// Every way a model file on disk can be unusable. Each case names the file and, where it applies,
/// the tensor, field and byte offset, so the message alone says what to fix.
public enum ModelFormatError: Error, Equatable, CustomStringConvertible {
    case fileNotFound(file: String)
    case badMagic(file: String, expected: String, found: String)
    case unsupportedVersion(file: String, version: Int)
    case truncated(file: String, what: String, offset: Int, needed: Int, fileSize: Int)
    case corrupt(file: String, what: String, offset: Int, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case missingTensor(file: String, tensor: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case missingField(file: String, field: String)
    case invalidConfig(file: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let f):
            return "\(f): file not found"
        case .badMagic(let f, let e, let found):
            return "\(f): not a valid file: expected magic \(e), found \(found)"
        case .unsupportedVersion(let f, let v):
            return "\(f): unsupported format version \(v)"
        case .truncated(let f, let what, let off, let need, let size):
            return "\(f): truncated: \(what) needs \(need) bytes at offset \(off) but the file has \(size) bytes"
        case .corrupt(let f, let what, let off, let why):
            return "\(f): corrupt \(what) at offset \(off): \(why)"
        case .unsupportedDType(let f, let t, let d):
            return "\(f): tensor '\(t)' has unsupported dtype \(d)"
        case .missingTensor(let f, let t):
            return "\(f): missing tensor '\(t)'"
        case .shapeMismatch(let f, let t, let e, let found):
            return "\(f): tensor '\(t)' has shape \(found), expected \(e)"
        case .missingField(let f, let field):
            return "\(f): missing field '\(field)'"
        case .invalidConfig(let f, let field, let why):
            return "\(f): invalid '\(field)': \(why)"
        }
    }
}
