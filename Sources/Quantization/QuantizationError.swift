/// Every way a quantization request can be unusable. Each case names the option or shape at fault
/// so the message alone says what to fix (stored files fail with `ModelFormatError`).
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    /// A configuration value is out of range (`option` is the user-facing name, e.g. "groupSize").
    case invalidOption(option: String, value: String, reason: String)
    /// Two inputs disagree in shape (e.g. a Hessian that is not in×in).
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    /// LAPACK could not factor the damped Hessian (it is not positive definite).
    case choleskyFailed(routine: String, info: Int)

    public var description: String {
        switch self {
        case .invalidOption(let o, let v, let why):
            return "invalid option '\(o)' = \(v): \(why)"
        case .shapeMismatch(let what, let e, let f):
            return "\(what) has shape \(f), expected \(e)"
        case .choleskyFailed(let r, let info):
            return "\(r) failed (info \(info)): the damped Hessian is not positive definite"
        }
    }
}
