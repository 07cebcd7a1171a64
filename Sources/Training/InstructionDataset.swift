import Models
import Tensor

/// Instruction examples tokenized for training: prompt tokens (BOS first when the tokenizer's
/// format wants it) then response tokens and EOS, with loss only on the response.
public struct InstructionDataset: Sendable {
    public let sequences: [TrainingSequence]
    /// Examples cut at the maximum length.
    public let truncatedCount: Int
    /// Examples dropped because their prompt alone filled the maximum length (nothing left to score).
    public let droppedCount: Int

    /// Tokenizes `examples`. With `maxLength`, longer examples are cut there (the response's end
    /// goes first); without one, an example longer than `contextLength` is an error naming it.
    /// `source` names the data in errors.
    public init(
        _ examples: [InstructionExample], tokenizer: any Tokenizer, maxLength: Int?, contextLength: Int, source: String
    ) throws {
        if let m = maxLength, m < 2 || m > contextLength {
            throw TrainingError.invalidConfig(field: "maxLength", reason: "\(m) must be in 2...\(contextLength) (the model's context)")
        }
        if examples.isEmpty { throw TrainingError.emptyDataset(file: source, reason: "no examples") }
        var seqs: [TrainingSequence] = [], truncated = 0, dropped = 0
        for (i, e) in examples.enumerated() {
            let prompt = e.prompt.isEmpty && !tokenizer.addsBOSByDefault ? [] : tokenizer.encode(e.prompt, addBOS: tokenizer.addsBOSByDefault)
            var tokens = prompt + tokenizer.encode(e.response) + [tokenizer.eosToken].compactMap { $0 }
            let limit = maxLength ?? contextLength
            if tokens.count > limit {
                guard maxLength != nil else {
                    throw TrainingError.exampleTooLong(file: source, example: i, length: tokens.count, limit: contextLength)
                }
                tokens.removeLast(tokens.count - limit)
                truncated += 1
            }
            let s = TrainingSequence(tokens: tokens, responseStart: prompt.count)
            if s.scoredCount == 0 { dropped += 1; continue }
            seqs.append(s)
        }
        if seqs.isEmpty {
            throw TrainingError.emptyDataset(file: source, reason: "all \(examples.count) examples have no response tokens within the maximum length")
        }
        sequences = seqs
        truncatedCount = truncated
        droppedCount = dropped
    }

    /// The last `count` sequences of a seeded shuffle as held-out data, the rest for training.
    public func split(heldOut count: Int, seed: UInt64) -> (train: [TrainingSequence], heldOut: [TrainingSequence]) {
        let order = DataOrder(count: sequences.count, seed: seed).permutation(epoch: 0)
        let k = Swift.min(count, sequences.count - 1)
        return (order.dropLast(k).map { sequences[$0] }, order.suffix(k).map { sequences[$0] })
    }
}

/// Where the data stream stands: which epoch's permutation and how far into it.
public struct DataCursor: Codable, Equatable, Sendable {
    public var epoch = 0
    public var index = 0

    public init(epoch: Int = 0, index: Int = 0) {
        self.epoch = epoch
        self.index = index
    }
}

/// Seeded shuffling: epoch e visits the data in a permutation drawn from (seed, e), so a cursor
/// alone restores the stream exactly.
public struct DataOrder: Sendable {
    public let count: Int
    public let seed: UInt64

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    /// Fisher–Yates with our own generator (the standard library's shuffle algorithm may change).
    public func permutation(epoch: Int) -> [Int] {
        var rng = SeededRandom(seed: seed).split(UInt64(epoch))
        var p = Array(0..<count)
        if count < 2 { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            p.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        return p
    }

    /// The next `n` indices from `cursor`, moving it (into later epochs when one runs out).
    public func take(_ n: Int, from cursor: inout DataCursor) -> [Int] {
        var out: [Int] = []
        var perm = permutation(epoch: cursor.epoch)
        while out.count < n {
            if cursor.index == count {
                cursor = DataCursor(epoch: cursor.epoch + 1, index: 0)
                perm = permutation(epoch: cursor.epoch)
            }
            out.append(perm[cursor.index])
            cursor.index += 1
        }
        return out
    }
}
