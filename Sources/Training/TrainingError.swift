/// Everything that stops a training run, described precisely enough to fix.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case dataFileNotFound(file: String)
    case malformedData(file: String, line: Int, field: String, reason: String)
    case emptyDataset(file: String, reason: String)
    case exampleTooLong(file: String, example: Int, length: Int, limit: Int)
    case sequenceTooLong(length: Int, limit: Int)
    case nonFiniteLoss(step: Int, loss: Float)
    case cannotMerge(base: String)
    case invalidConfig(field: String, reason: String)
    case checkpointCorrupt(file: String, reason: String)
    case checkpointMismatch(file: String, reason: String)

    public var description: String {
        switch self {
        case .dataFileNotFound(let f):
            return "\(f): data file not found or unreadable"
        case .malformedData(let f, let line, let field, let why):
            return "\(f):\(line): field '\(field)': \(why)"
        case .emptyDataset(let f, let why):
            return "\(f): no usable examples (\(why))"
        case .exampleTooLong(let f, let i, let n, let limit):
            return "\(f): example \(i) is \(n) tokens, longer than the model's context of \(limit) (set a maximum length to truncate)"
        case .sequenceTooLong(let n, let limit):
            return "a training sequence of \(n) tokens exceeds the model's \(limit) positions"
        case .nonFiniteLoss(let step, let loss):
            return "training stopped: loss is \(loss) at step \(step) (try a lower learning rate or gradient clipping)"
        case .cannotMerge(let base):
            return "cannot merge an adapter into a base layer of type \(base): only dense bases merge into a float weight"
        case .invalidConfig(let field, let why):
            return "training setting '\(field)': \(why)"
        case .checkpointCorrupt(let f, let why):
            return "\(f): corrupt checkpoint: \(why)"
        case .checkpointMismatch(let f, let why):
            return "\(f): checkpoint does not fit this run: \(why)"
        }
    }
}
