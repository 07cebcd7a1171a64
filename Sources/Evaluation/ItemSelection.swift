/// Which documents of a task a run scores. Its canonical string goes into every result (as
/// `RunConfig.items`), so numbers from different selections are never paired or mistaken for
/// each other.
public enum ItemSelection: Equatable, Sendable {
    /// Every document.
    case all
    /// lm-eval's `--limit n`: the first n documents of every subtask (lm-eval limits each MMLU
    /// subject task separately), in file order.
    case first(Int)
    /// A seeded stratified sample (`Subset`).
    case subset(Subset)

    /// "all", "limit:first_n;per_subtask=N", or the subset's canonical string.
    public var canonical: String {
        switch self {
        case .all: return "all"
        case .first(let n): return "limit:first_n;per_subtask=\(n)"
        case .subset(let s): return s.canonical
        }
    }

    /// The selected documents in file order. Asking for more than a subtask holds is an error rather
    /// than a silent clip (lm-eval clips), so a run never covers fewer items than it claims.
    public func select(from documents: [TaskDocument], task: String) throws -> [TaskDocument] {
        switch self {
        case .all:
            return documents
        case .subset(let s):
            return try s.select(from: documents)
        case .first(let n):
            var taken: [String: Int] = [:], sizes: [String: Int] = [:], order: [String] = []
            for d in documents {
                if sizes[d.subtask] == nil { order.append(d.subtask) }
                sizes[d.subtask, default: 0] += 1
            }
            if let small = order.first(where: { sizes[$0]! < n }) {
                throw EvaluationError.limitTooLarge(task: task, stratum: small, requested: n, available: sizes[small]!)
            }
            return documents.filter { d in
                taken[d.subtask, default: 0] += 1
                return taken[d.subtask]! <= n
            }
        }
    }
}
