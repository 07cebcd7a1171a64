/// What merging two adjacent tokens gives: the merged token and its priority (lower merges first).
/// Both BPE flavours are expressed in it: Hugging Face BPE uses the merge rank, SentencePiece and
/// llama2.c an order key derived from the merged token's score (`priority(score:)`).
struct PairTable: Sendable {
    /// Open addressing with linear probing: the hot path of encoding is one lookup per adjacent
    /// pair, and a flat table of 64-bit keys is several times faster than `Dictionary`.
    private var keys: [UInt64]
    private var values: [UInt64]  // priority << 32 | merged id
    private let mask: Int

    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    @inline(__always) private func slot(_ key: UInt64) -> Int {
        // Fibonacci hashing spreads the consecutive ids of real vocabularies across the table.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Sets the result of merging `a` then `b`, replacing an earlier entry for the same pair.
    mutating func set(_ a: Int32, _ b: Int32, priority: UInt32, merged: Int32) {
        let k = Self.key(a, b)
        var s = slot(k)
        while keys[s] != Self.empty && keys[s] != k { s = (s + 1) & mask }
        keys[s] = k
        values[s] = UInt64(priority) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// The merge of `a` then `b`, if the vocabulary has one.
    @inline(__always) func lookup(_ a: Int32, _ b: Int32) -> (priority: UInt32, merged: Int32)? {
        let k = Self.key(a, b)
        return keys.withUnsafeBufferPointer { keys in
            var s = slot(k)
            while true {
                let found = keys[s]
                if found == k {
                    let v = values[s]
                    return (UInt32(truncatingIfNeeded: v >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: v)))
                }
                if found == Self.empty { return nil }
                s = (s + 1) & mask
            }
        }
    }

    /// An order key that sorts higher scores first, so the merger's "lowest priority first" picks
    /// the best-scoring pair.
    static func priority(score: Float) -> UInt32 {
        let bits = score.bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }
}
