import Models

/// One training example as token ids: a prompt the model reads and a response it learns to
/// produce. Token t is scored (predicted from tokens before it) when t ≥ `responseStart`.
public struct TrainingSequence: Equatable, Sendable {
    public var tokens: [Int]
    /// Index of the first scored token; at least 1, since token 0 has nothing to be predicted from.
    public var responseStart: Int

    public init(tokens: [Int], responseStart: Int) {
        self.tokens = tokens
        self.responseStart = Swift.max(1, responseStart)
    }

    /// Number of tokens that carry loss.
    public var scoredCount: Int { Swift.max(0, tokens.count - responseStart) }
}

/// Sequences packed without padding, with each row's next-token target (−1 where no loss is taken:
/// prompt rows and each sequence's last row).
public struct TrainingBatch: Sendable {
    public let tokens: TokenBatch
    public let targets: [Int32]
    public let scoredCount: Int

    public init(_ sequences: [TrainingSequence]) {
        tokens = TokenBatch(sequences: sequences.map(\.tokens))
        var t: [Int32] = []
        t.reserveCapacity(tokens.rowCount)
        for s in sequences {
            for i in 0..<s.tokens.count {
                t.append(i + 1 < s.tokens.count && i + 1 >= s.responseStart ? Int32(s.tokens[i + 1]) : -1)
            }
        }
        targets = t
        scoredCount = sequences.reduce(0) { $0 + $1.scoredCount }
    }
}

/// Summed negative log-likelihood of each sequence of a batch over its scored tokens.
public struct BatchLoss: Equatable, Sendable {
    public var sequenceNLL: [Double]
    public var sequenceTokens: [Int]

    public var totalNLL: Double { sequenceNLL.reduce(0, +) }
    public var tokens: Int { sequenceTokens.reduce(0, +) }
    public var meanNLL: Double { totalNLL / Double(Swift.max(tokens, 1)) }
}
