import Tensor

/// The on-disk format of packed and mixed-precision weights. All integers little-endian.
///
/// Packed (`QPKW`): magic "QAFTPKW1", UInt32 version (2), bits, rows, cols, groupSize, parameter
/// width in bits (16 = fp16, 32 = fp32); then `BitPacking.wordCount` UInt32 code words (the tiled
/// `BitPacking` layout, padding codes zero); then rows·groups scales; then rows·groups zeros.
/// Nothing may follow. (Version 1 had a row-major byte layout and is not read.)
///
/// Mixed (`QMXW`): magic "QAFTMXW1", UInt32 version (2), k; a UInt64 length and a packed blob of
/// (rows, cols − k); k UInt32 weak indices (strictly ascending); rows·k fp32 weak weights (the
/// trainable master copy is never rounded). Nothing may follow.
public enum WeightBlob {
    static let packedMagic = Array("QAFTPKW1".utf8)
    static let mixedMagic = Array("QAFTMXW1".utf8)
    static let version: UInt32 = 2

    public enum ParameterPrecision: Int, Sendable { case float16 = 16, float32 = 32 }

    public static func encode(_ w: PackedWeights, precision: ParameterPrecision = .float16) -> [UInt8] {
        var out = packedMagic
        for v in [version, UInt32(w.bits), UInt32(w.rows), UInt32(w.cols), UInt32(w.groupSize), UInt32(precision.rawValue)] {
            append(v, to: &out)
        }
        for v in w.words { append(v, to: &out) }
        for v in w.scales + w.zeros {
            if precision == .float16 { append(Float16(v).bitPattern, to: &out) } else { append(v.bitPattern, to: &out) }
        }
        return out
    }

    public static func encode(_ w: MixedPrecisionWeights, precision: ParameterPrecision = .float16) -> [UInt8] {
        var out = mixedMagic
        append(version, to: &out)
        append(UInt32(w.weakIndices.count), to: &out)
        let low = encode(w.lowBit, precision: precision)
        append(UInt64(low.count), to: &out)
        out += low
        for c in w.weakIndices { append(UInt32(c), to: &out) }
        for v in w.weak.storage { append(v.bitPattern, to: &out) }
        return out
    }

    public static func decodePacked(_ bytes: [UInt8]) throws -> PackedWeights {
        var r = Reader(bytes: bytes, base: 0)
        let w = try readPacked(&r)
        try r.expectEnd()
        return w
    }

    public static func decodeMixed(_ bytes: [UInt8]) throws -> MixedPrecisionWeights {
        var r = Reader(bytes: bytes, base: 0)
        try r.magic(mixedMagic)
        let v = try r.u32("version")
        guard v == version else { throw QuantizationError.unsupportedVersion(what: "mixed-precision weights", version: Int(v)) }
        let k = Int(try r.u32("k"))
        let kOffset = r.offset - 4
        let length = try r.u64("packed length")
        guard length <= UInt64(bytes.count - r.offset) else {
            throw QuantizationError.truncated(what: "packed part", offset: r.offset, needed: Int(clamping: length),
                                              available: bytes.count - r.offset)
        }
        var inner = Reader(bytes: Array(bytes[r.offset..<(r.offset + Int(length))]), base: r.offset)
        let low = try readPacked(&inner)
        try inner.expectEnd()
        r.offset += Int(length)
        guard k < low.cols + k, k <= (bytes.count - r.offset) / 4 else {
            throw QuantizationError.corrupt(field: "k", offset: kOffset, reason: "\(k) weak columns do not fit the blob")
        }
        var indices: [Int] = []
        let indicesOffset = r.offset
        for i in 0..<k { indices.append(Int(try r.u32("weakIndices[\(i)]"))) }
        let weak = try r.floats(low.rows * k, .float32, what: "weak block (\(low.rows) × \(k))")
        try r.expectEnd()
        do {
            return try MixedPrecisionWeights(lowBit: low, weak: Matrix(rows: low.rows, cols: k, storage: weak), weakIndices: indices)
        } catch QuantizationError.invalidOption(_, let value, let reason) {
            throw QuantizationError.corrupt(field: "weakIndices", offset: indicesOffset, reason: "\(value): \(reason)")
        }
    }

    private static func readPacked(_ r: inout Reader) throws -> PackedWeights {
        try r.magic(packedMagic)
        let v = try r.u32("version")
        guard v == version else { throw QuantizationError.unsupportedVersion(what: "packed weights", version: Int(v)) }
        let fieldStart = r.position
        let bits = Int(try r.u32("bits")), rows = Int(try r.u32("rows")), cols = Int(try r.u32("cols"))
        let groupSize = Int(try r.u32("groupSize"))
        let precisionOffset = r.position
        let width = Int(try r.u32("parameterWidth"))
        do {
            try PackedWeights.validate(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        } catch QuantizationError.invalidOption(let option, let value, let reason) {
            throw QuantizationError.corrupt(field: option, offset: fieldStart, reason: "\(value): \(reason)")
        }
        guard let precision = ParameterPrecision(rawValue: width) else {
            throw QuantizationError.corrupt(field: "parameterWidth", offset: precisionOffset, reason: "\(width) is neither 16 nor 32")
        }
        let count = BitPacking.wordCount(rows: rows, cols: cols, bits: bits)
        let codesOffset = r.position
        let words = try r.words(count, what: "codes (\(count) words)")
        try checkPadding(words, rows: rows, cols: cols, bits: bits, codesOffset: codesOffset)
        let groups = rows * ((cols + groupSize - 1) / groupSize)
        let scales = try r.floats(groups, precision, what: "scales")
        let zeros = try r.floats(groups, precision, what: "zeros")
        return PackedWeights(rows: rows, cols: cols, bits: bits, groupSize: groupSize, words: words, scales: scales, zeros: zeros)
    }

    /// Padding codes (rows past `rows` in the last tile, columns past `cols` in the last chunk)
    /// must be zero: anything else means the shape fields do not match the codes.
    static func checkPadding(_ words: [UInt32], rows: Int, cols: Int, bits: Int, codesOffset: Int) throws {
        let pr = BitPacking.paddedRows(rows), pc = BitPacking.paddedCols(cols)
        try words.withUnsafeBufferPointer { w in
            for r in 0..<pr {
                for c in (r < rows ? cols : 0)..<pc where BitPacking.get(row: r, col: c, cols: cols, bits: bits, in: w.baseAddress!) != 0 {
                    let block = BitPacking.blockOffset(tile: r / BitPacking.tileRows, chunk: c / BitPacking.chunkCodes,
                                                       chunks: pc / BitPacking.chunkCodes, bits: bits)
                    let word = block + r % BitPacking.tileRows + BitPacking.tileRows * BitPacking.position(c % BitPacking.chunkCodes, bits: bits).word
                    throw QuantizationError.corrupt(field: "codes", offset: codesOffset + 4 * word,
                                                    reason: "padding code at row \(r), column \(c) is not zero")
                }
            }
        }
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }
}

/// Bounds-checked little-endian reads that report absolute offsets.
private struct Reader {
    let bytes: [UInt8]
    /// Absolute offset of `bytes[0]` within the outermost blob, for error messages.
    let base: Int
    var offset = 0
    var position: Int { base + offset }

    init(bytes: [UInt8], base: Int) {
        self.bytes = bytes
        self.base = base
    }

    mutating func bytes(_ n: Int, what: String) throws -> [UInt8] {
        guard n >= 0, n <= bytes.count - offset else {
            throw QuantizationError.truncated(what: what, offset: base + offset, needed: n, available: bytes.count - offset)
        }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    mutating func magic(_ m: [UInt8]) throws {
        let found = Array(bytes.prefix(m.count))
        guard found == m else {
            throw QuantizationError.badMagic(expected: String(decoding: m, as: UTF8.self),
                                             found: found.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        }
        offset += m.count
    }

    mutating func words(_ n: Int, what: String) throws -> [UInt32] {
        guard n <= (bytes.count - offset) / 4 else {
            throw QuantizationError.truncated(what: what, offset: base + offset, needed: 4 * n, available: bytes.count - offset)
        }
        defer { offset += 4 * n }
        return bytes.withUnsafeBytes { b in
            (0..<n).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset + 4 * $0, as: UInt32.self)) }
        }
    }

    mutating func u32(_ what: String) throws -> UInt32 {
        try bytes(4, what: what).enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) }
    }

    mutating func u64(_ what: String) throws -> UInt64 {
        try bytes(8, what: what).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }
    }

    mutating func floats(_ n: Int, _ precision: WeightBlob.ParameterPrecision, what: String) throws -> [Float] {
        let width = precision.rawValue / 8, start = offset
        let raw = try bytes(n * width, what: what)
        return try (0..<n).map { i in
            let v: Float = width == 2
                ? Float(Float16(bitPattern: UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8))
                : Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(raw[4 * i + $1]) << (8 * $1) })
            guard v.isFinite else {
                throw QuantizationError.corrupt(field: what, offset: base + start + i * width, reason: "value \(i) is \(v)")
            }
            return v
        }
    }

    func expectEnd() throws {
        guard offset == bytes.count else {
            throw QuantizationError.corrupt(field: "end", offset: base + offset,
                                            reason: "\(bytes.count - offset) unexpected trailing bytes")
        }
    }
}
