/// GSM8K (Cobbe et al. 2021), the grade-school maths set of LoTA-QAF's task-specific regime: a
/// question, and a reference solution whose last line is "#### <answer>". Scored by generation
/// (`GenerationEvaluator`, `FinalAnswer`), not by log-likelihood, so it is not a `MultipleChoiceTask`.
public enum GSM8K {
    /// The task name in results and subsets.
    public static let name = "gsm8k"
    /// The test split (1,319 problems) under the data folder; verified against its SHA256SUMS.
    public static let testFile = "gsm8k/test.jsonl"
    /// The item set's version (in subset identities): bump when the items or their ids change. How
    /// they are prompted and scored is versioned apart, by `GenerationProtocol`.
    public static let version = "1"

    /// A seeded subset of `count` test problems (its identity carries the item set's `version`).
    public static func subset(count: Int, seed: UInt64) -> Subset {
        Subset(generationTask: name, version: version, count: count, seed: seed)
    }

    /// One problem.
    public struct Item: Codable, Equatable, Sendable {
        /// Stable across runs and machines: "gsm8k/<0-based line of its file>".
        public let id: String
        public let question: String
        /// The reference solution, ending "#### <final answer>".
        public let answer: String

        public init(id: String, question: String, answer: String) {
            self.id = id
            self.question = question
            self.answer = answer
        }
    }

    private struct Record: Decodable {
        let question: String
        let answer: String
    }

    /// Every problem of `file` (JSON Lines of {question, answer}) in file order, after the file's
    /// sha256 is checked against the data folder's list. A missing or altered file is an
    /// `EvaluationError` naming it.
    public static func items(from data: DataDirectory, file: String = testFile) throws -> [Item] {
        try JSONLines.decode(Record.self, from: data.bytes(file), file: file).enumerated().map { i, r in
            Item(id: "\(name)/\(i)", question: r.question, answer: r.answer)
        }
    }

    /// The items `selection` keeps, in file order: all, the first n, or a seeded subset (GSM8K has
    /// no subtasks, so a subset's `perSubtask` is its size). Asking for more than there are is an error.
    public static func select(_ items: [Item], _ selection: ItemSelection) throws -> [Item] {
        switch selection {
        case .all:
            return items
        case .first(let n):
            guard n <= items.count else {
                throw EvaluationError.limitTooLarge(task: name, stratum: name, requested: n, available: items.count)
            }
            return Array(items.prefix(n))
        case .subset(let s):
            return try s.positions(among: items.count).map { items[$0] }
        }
    }
}
