/// Inputs the forward pass cannot run, described precisely.
public enum LlamaError: Error, Equatable, CustomStringConvertible {
    case tokenOutOfRange(token: Int, position: Int, vocabSize: Int)
    case contextOverflow(slot: Int, length: Int, limit: Int)
    case invalidSlot(slot: Int, slots: Int)
    case duplicateSlot(slot: Int)
    case invalidLogitRow(row: Int, rows: Int)

    public var description: String {
        switch self {
        case .tokenOutOfRange(let t, let p, let v):
            return "token id \(t) at batch row \(p) is outside the vocabulary of \(v)"
        case .contextOverflow(let s, let n, let limit):
            return "sequence in slot \(s) would reach \(n) positions, beyond the limit of \(limit)"
        case .invalidSlot(let s, let n):
            return "KV cache slot \(s) does not exist (cache has \(n) slots)"
        case .duplicateSlot(let s):
            return "two sequences of one batch use KV cache slot \(s)"
        case .invalidLogitRow(let r, let n):
            return "logits asked for row \(r) of a batch of \(n) rows"
        }
    }
}
