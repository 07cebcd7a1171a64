/// GPTQ's int32 packing. A run of b-bit values is one little-endian bit stream cut into 32-bit
/// words: value k occupies bits b·k … b·k+b−1 of the stream, and stream bit s is bit s mod 32 of
/// word s / 32. For 2, 4 and 8 bits that is 32/b whole values per word; for 3 bits it is AutoGPTQ's
/// layout of 32 values in 3 words, value 10 straddling words 0–1 and value 21 words 1–2 (GPTQModel
/// unpacks it by shifts and a splice of those two values).
///
/// `qweight` [in·b/32, out] packs each output column's codes along the input dimension; `qzeros`
/// [groups, out·b/32] packs each group's zero points along the output dimension.
public enum GPTQPacking {
    /// The bit widths GPTQ checkpoints store.
    public static let supportedBits = [2, 3, 4, 8]

    /// Packs `count` values (`value(k)` < 2^bits) into count·bits/32 words; count·bits must be a
    /// multiple of 32.
    public static func pack(count: Int, bits: Int, _ value: (Int) -> UInt32) -> [UInt32] {
        precondition(count * bits % 32 == 0, "\(count) values of \(bits) bits do not fill whole 32-bit words")
        var words = [UInt32](repeating: 0, count: count * bits / 32)
        for k in 0..<count {
            let v = UInt64(value(k)), bit = k * bits
            let w = bit / 32, shift = bit % 32
            // A value crosses into the next word only when it does not fit the rest of this one.
            let spread = v << UInt64(shift)
            words[w] |= UInt32(truncatingIfNeeded: spread)
            if shift + bits > 32 { words[w + 1] |= UInt32(truncatingIfNeeded: spread >> 32) }
        }
        return words
    }

    /// The `count` values of `bits` bits packed in `words` (the inverse of `pack`).
    public static func unpack(_ words: [UInt32], count: Int, bits: Int) -> [UInt32] {
        let mask = UInt64(1) << UInt64(bits) - 1
        return (0..<count).map { k in
            let bit = k * bits, w = bit / 32, shift = UInt64(bit % 32)
            var pair = UInt64(words[w])
            if w + 1 < words.count { pair |= UInt64(words[w + 1]) << 32 }
            return UInt32((pair >> shift) & mask)
        }
    }

    /// `qweight` of a (rows = out, cols = in) code matrix, row-major [cols·bits/32, rows], as int32.
    public static func qweight(codes: [UInt8], rows: Int, cols: Int, bits: Int) -> [Int32] {
        let packedRows = cols * bits / 32
        var out = [Int32](repeating: 0, count: packedRows * rows)
        for r in 0..<rows {
            let words = pack(count: cols, bits: bits) { UInt32(codes[r * cols + $0]) }
            for (i, word) in words.enumerated() { out[i * rows + r] = Int32(bitPattern: word) }
        }
        return out
    }

    /// `qzeros` of stored zero points (groups × out, row-major), row-major [groups, out·bits/32], as int32.
    public static func qzeros(_ zeros: [UInt32], groups: Int, out: Int, bits: Int) -> [Int32] {
        (0..<groups).flatMap { g in
            pack(count: out, bits: bits) { zeros[g * out + $0] }.map { Int32(bitPattern: $0) }
        }
    }
}
