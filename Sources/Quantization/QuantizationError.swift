/// Every way a quantization request or a stored quantized tensor can be unusable. Each case names the
/// option, field or byte offset at fault so the message alone says what to fix.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    /// A configuration value is out of range (`option` is the user-facing name, e.g. "groupSize").
    case invalidOption(option: String, value: String, reason: String)
    /// Two inputs disagree in shape (e.g. a Hessian that is not in×in).
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    /// A serialized blob ends before `what` is complete.
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    case badMagic(expected: String, found: String)
    case unsupportedVersion(what: String, version: Int)
    /// A serialized field holds a value that contradicts the rest of the blob.
    case corrupt(field: String, offset: Int, reason: String)
    /// LAPACK could not factor the damped Hessian (it is not positive definite).
    case choleskyFailed(routine: String, info: Int)

    public var description: String {
        switch self {
        case .invalidOption(let o, let v, let why):
            return "invalid option '\(o)' = \(v): \(why)"
        case .shapeMismatch(let what, let e, let f):
            return "\(what) has shape \(f), expected \(e)"
        case .truncated(let what, let off, let need, let avail):
            return "truncated: \(what) needs \(need) bytes at offset \(off) but only \(avail) remain"
        case .badMagic(let e, let f):
            return "not a qaft quantized blob: expected magic \(e), found \(f)"
        case .unsupportedVersion(let what, let v):
            return "\(what): unsupported version \(v)"
        case .corrupt(let field, let off, let why):
            return "corrupt '\(field)' at offset \(off): \(why)"
        case .choleskyFailed(let r, let info):
            return "\(r) failed (info \(info)): the damped Hessian is not positive definite"
        }
    }
}
