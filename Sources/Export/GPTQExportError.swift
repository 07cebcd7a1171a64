/// Why a GPTQ folder was not written. Each case names the file, tensor or field and the value.
public enum GPTQExportError: Error, Equatable, CustomStringConvertible {
    /// A grid GPTQ's tensors cannot hold (bit width, shape, zero point, scale).
    case unrepresentable(tensor: String, reason: String)
    /// The grids do not match the model: a missing layer or projection, a shape, mixed bits or groups.
    case gridMismatch(reason: String)
    /// The destination already exists (the writer never replaces a folder).
    case destinationExists(path: String)
    /// A source file (config, tokenizer) is missing or unreadable.
    case source(file: String, reason: String)

    public var description: String {
        switch self {
        case .unrepresentable(let t, let why): return "GPTQ export: \(t) cannot be stored in GPTQ format: \(why)"
        case .gridMismatch(let why): return "GPTQ export: \(why)"
        case .destinationExists(let p): return "GPTQ export: \(p) already exists; remove it or choose another output path"
        case .source(let f, let why): return "GPTQ export: \(f): \(why)"
        }
    }
}
