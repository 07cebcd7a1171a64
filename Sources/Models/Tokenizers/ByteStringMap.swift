import Foundation

/// A hash map from byte strings to values that owns copies of its keys and is queried with
/// unowned byte buffers, so a lookup allocates nothing. It backs the whole-word vocabulary lookup
/// (`ignore_merges`) and the per-call cache of merged words, the two lookups made for every word.
struct ByteStringMap<Value>: Sendable where Value: Sendable {
    private var keyBytes: [UInt8] = []
    private var keyStarts: [Int32] = [0]
    private var values: [Value] = []
    /// Open addressing with linear probing: entry index + 1, 0 = empty.
    private var slots: [Int32] = [Int32](repeating: 0, count: 16)

    /// The value stored for `key`.
    func value(for key: UnsafeBufferPointer<UInt8>) -> Value? {
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: Self.hash(key)) & mask
        while true {
            let entry = Int(slots[s]) - 1
            if entry < 0 { return nil }
            if matches(entry, key) { return values[entry] }
            s = (s + 1) & mask
        }
    }

    /// Stores `value` for `key`, replacing an earlier value.
    mutating func set(_ key: UnsafeBufferPointer<UInt8>, _ value: Value) {
        if (values.count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: Self.hash(key)) & mask
        while true {
            let entry = Int(slots[s]) - 1
            if entry < 0 { break }
            if matches(entry, key) {
                values[entry] = value
                return
            }
            s = (s + 1) & mask
        }
        keyBytes.append(contentsOf: key)
        keyStarts.append(Int32(keyBytes.count))
        values.append(value)
        slots[s] = Int32(values.count)
    }

    @inline(__always) private func matches(_ entry: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(keyStarts[entry]), end = Int(keyStarts[entry + 1])
        guard end - start == key.count else { return false }
        return keyBytes.withUnsafeBufferPointer { stored in
            key.isEmpty || memcmp(stored.baseAddress! + start, key.baseAddress!, key.count) == 0
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        keyBytes.withUnsafeBufferPointer { stored in
            for entry in values.indices {
                let start = Int(keyStarts[entry])
                let key = UnsafeBufferPointer(rebasing: stored[start..<Int(keyStarts[entry + 1])])
                var s = Int(truncatingIfNeeded: Self.hash(key)) & mask
                while slots[s] != 0 { s = (s + 1) & mask }
                slots[s] = Int32(entry + 1)
            }
        }
    }

    /// A multiply-rotate hash over 8-byte chunks (FxHash's mixing): words are short and the
    /// keys come from the vocabulary or the text, so no defence against chosen collisions is needed.
    @inline(__always) private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = UInt64(key.count) &* 0x9E37_79B9_7F4A_7C15
        var i = 0
        let n = key.count
        let raw = UnsafeRawBufferPointer(key)
        while i + 8 <= n {
            h = ((h << 5) | (h >> 59)) ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = h &* 0x517C_C1B7_2722_0A95
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(key[i]) << shift
            shift += 8
            i += 1
        }
        h = (((h << 5) | (h >> 59)) ^ tail) &* 0x517C_C1B7_2722_0A95
        // MurmurHash3's finalizer, so the low bits (the slot) depend on every input bit.
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 33)
    }
}
