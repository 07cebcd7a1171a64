/// Several token sequences run through the model together, packed without padding.
///
/// Sequence i occupies rows `offset ..< offset + count` of the packed batch. With a KV cache, it
/// continues cache slot `slot` from that slot's current length; without one, it starts at position 0.
public struct TokenBatch: Sendable {
    public struct Sequence: Sendable, Equatable {
        public var offset: Int
        public var count: Int
        public var slot: Int
    }

    public private(set) var tokens: [Int] = []
    public private(set) var sequences: [Sequence] = []

    public init() {}

    /// A batch of one sequence in slot 0.
    public init(_ tokens: [Int]) { append(tokens, slot: 0) }

    /// A batch of several sequences, sequence i in slot i.
    public init(sequences: [[Int]]) {
        for (i, s) in sequences.enumerated() { append(s, slot: i) }
    }

    public mutating func append(_ seq: [Int], slot: Int) {
        sequences.append(Sequence(offset: tokens.count, count: seq.count, slot: slot))
        tokens.append(contentsOf: seq)
    }

    public var rowCount: Int { tokens.count }
}

/// Which rows of a forward pass need logits. The head is a fifth of the model's FLOPs (and most of
/// decode's memory traffic), so callers ask only for the rows they score.
public enum LogitRows: Sendable, Equatable {
    case all
    case lastOfEachSequence
    case rows([Int])
    case none
}
