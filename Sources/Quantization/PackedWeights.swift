import Tensor

/// A (rows, cols) weight matrix stored as bit-packed b-bit codes (layout in `BitPacking`) with a
/// per-(row, group) scale and zero point: w = scale · (code − zero). Groups run along the input
/// dimension; the last group of a row may be short. This is what the low-bit kernels read.
public struct PackedWeights: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public let bits: Int
    public let groupSize: Int
    /// rows × `rowBytes`, each row padded with zero codes to a whole chunk.
    public internal(set) var packed: [UInt8]
    /// (rows, groupCount) row-major.
    public internal(set) var scales: [Float]
    public internal(set) var zeros: [Float]

    public var groupCount: Int { (cols + groupSize - 1) / groupSize }
    public var rowBytes: Int { BitPacking.rowBytes(cols: cols, bits: bits) }
    public var paddedCols: Int { BitPacking.paddedCount(cols) }

    /// Checks the shape options every kernel relies on.
    static func validate(rows: Int, cols: Int, bits: Int, groupSize: Int) throws {
        guard BitPacking.supportedBits.contains(bits) else {
            throw QuantizationError.invalidOption(option: "bits", value: "\(bits)", reason: "packed storage holds 2, 3, 4 or 8 bits")
        }
        guard rows > 0, cols > 0 else {
            throw QuantizationError.invalidOption(option: "shape", value: "\(rows)×\(cols)", reason: "must be non-empty")
        }
        // Kernels decode 16 codes per vector; groups must not split a vector.
        guard groupSize > 0, groupSize % 16 == 0 else {
            throw QuantizationError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                                  reason: "packed storage needs a positive multiple of 16")
        }
    }

    /// Packs a quantized matrix.
    public init(_ q: QuantizedMatrix) throws {
        try Self.validate(rows: q.rows, cols: q.cols, bits: q.bits, groupSize: q.groupSize)
        rows = q.rows
        cols = q.cols
        bits = q.bits
        groupSize = q.groupSize
        scales = q.scales
        zeros = q.zeros
        let rb = BitPacking.rowBytes(cols: cols, bits: bits)
        packed = [UInt8](repeating: 0, count: rows * rb)
        var chunk = [UInt8](repeating: 0, count: BitPacking.chunkCodes)
        packed.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                for c0 in stride(from: 0, to: cols, by: BitPacking.chunkCodes) {
                    for j in 0..<BitPacking.chunkCodes { chunk[j] = c0 + j < cols ? q.codes[r * cols + c0 + j] : 0 }
                    let dst = out.baseAddress! + r * rb + c0 / BitPacking.chunkCodes * BitPacking.chunkBytes(bits: bits)
                    chunk.withUnsafeBufferPointer { BitPacking.pack($0, bits: bits, into: dst) }
                }
            }
        }
    }

    /// Assembles stored parts (used by deserialization, which validates them first).
    init(rows: Int, cols: Int, bits: Int, groupSize: Int, packed: [UInt8], scales: [Float], zeros: [Float]) {
        self.rows = rows
        self.cols = cols
        self.bits = bits
        self.groupSize = groupSize
        self.packed = packed
        self.scales = scales
        self.zeros = zeros
    }

    /// The code at (row, col), unpacked one at a time.
    public func code(row: Int, col: Int) -> UInt8 {
        packed.withUnsafeBufferPointer { p in
            let chunk = p.baseAddress! + row * rowBytes + col / BitPacking.chunkCodes * BitPacking.chunkBytes(bits: bits)
            return BitPacking.unpack(chunk, col % BitPacking.chunkCodes, bits: bits)
        }
    }

    /// All codes, unpacked (rows, cols).
    public func unpacked() -> QuantizedMatrix {
        var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        for r in 0..<rows { for c in 0..<cols { q.codes[r * cols + c] = code(row: r, col: c) } }
        q.scales = scales
        q.zeros = zeros
        return q
    }

    /// Every weight, dequantized with the SIMD decoders.
    public func dequantized() -> Matrix {
        var m = Matrix(zeros: rows, cols)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCols) { row in
            for r in 0..<rows {
                dequantizeRows(r..<(r + 1), into: row.baseAddress!, ld: paddedCols)
                m.storage.withUnsafeMutableBufferPointer {
                    ($0.baseAddress! + r * cols).update(from: row.baseAddress!, count: cols)
                }
            }
        }
        return m
    }

    /// Writes rows `range` dequantized into `out` (row stride `ld` ≥ paddedCols; padding columns
    /// receive the value of code 0 and must be ignored by the caller).
    func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>, ld: Int) {
        switch bits {
        case 2: dequantizeRows(Decode2.self, range, out, ld)
        case 3: dequantizeRows(Decode3.self, range, out, ld)
        case 4: dequantizeRows(Decode4.self, range, out, ld)
        default: dequantizeRows(Decode8.self, range, out, ld)
        }
    }

    private func dequantizeRows<D: CodeDecoder>(_: D.Type, _ range: Range<Int>, _ out: UnsafeMutablePointer<Float>, _ ld: Int) {
        let cb = BitPacking.chunkBytes(bits: bits), gc = groupCount, vectors = paddedCols / 16
        packed.withUnsafeBytes { p in
            scales.withUnsafeBufferPointer { s in
                zeros.withUnsafeBufferPointer { z in
                    for r in range {
                        let row = p.baseAddress! + r * rowBytes
                        let dst = out + (r - range.lowerBound) * ld
                        for v in 0..<vectors {
                            // Padding vectors past the last group reuse its parameters.
                            let g = r * gc + min(v * 16 / groupSize, gc - 1)
                            let w = s[g] * (D.decode(row + (v >> 1) * cb, half: v & 1) - z[g])
                            UnsafeMutableRawPointer(dst + 16 * v).storeBytes(of: w, as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
    }
}
