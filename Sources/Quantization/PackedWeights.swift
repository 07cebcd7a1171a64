import Tensor

/// A (rows, cols) weight matrix stored as bit-packed b-bit codes (layout in `BitPacking`) with a
/// per-(row, group) scale and zero point: w = scale · (code − zero), or scale · code + offset for
/// a grid with `offsets` (`QuantizedMatrix`). Groups run along the input dimension; the last group
/// of a row may be short. This is what the low-bit kernels read.
public struct PackedWeights: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public let bits: Int
    public let groupSize: Int
    /// `BitPacking.wordCount` words in the tiled layout; padding codes are zero.
    public internal(set) var words: [UInt32]
    /// (rows, groupCount) row-major.
    public internal(set) var scales: [Float]
    public internal(set) var zeros: [Float]
    /// (rows, groupCount) row-major, or nil (`QuantizedMatrix.offsets`).
    public internal(set) var offsets: [Float]?
    /// The kernels' copy of the parameters, (tile, group, lane) so one vector load serves a tile.
    /// Padding rows hold 0.
    let laneScales: [Float]
    let laneZeros: [Float]
    /// The offsets in the same layout, empty for a grid without them (each form is decoded with
    /// `QuantizedMatrix.dequantize`'s own expression, so both agree with it bit for bit).
    let laneOffsets: [Float]

    public var groupCount: Int { (cols + groupSize - 1) / groupSize }
    public var paddedCols: Int { BitPacking.paddedCols(cols) }
    var tiles: Int { BitPacking.paddedRows(rows) / BitPacking.tileRows }
    var chunks: Int { paddedCols / BitPacking.chunkCodes }

    /// Checks the shape options every kernel relies on.
    static func validate(rows: Int, cols: Int, bits: Int, groupSize: Int) throws {
        guard BitPacking.supportedBits.contains(bits) else {
            throw QuantizationError.invalidOption(option: "bits", value: "\(bits)", reason: "packed storage holds 2…8 bits")
        }
        guard rows > 0, cols > 0 else {
            throw QuantizationError.invalidOption(option: "shape", value: "\(rows)×\(cols)", reason: "must be non-empty")
        }
        // Kernels apply a group's parameters per 16-column half chunk; groups must not split one.
        guard groupSize > 0, groupSize % 16 == 0 else {
            throw QuantizationError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                                  reason: "packed storage needs a positive multiple of 16")
        }
    }

    /// The group size stored for groups of `groupSize` columns of a `cols`-wide matrix: a group
    /// spanning the whole row is stored rounded up to a multiple of 16, which keeps one group per
    /// row and lets the kernels' 16-column chunks never straddle two.
    public static func storedGroupSize(_ groupSize: Int, cols: Int) -> Int {
        groupSize >= cols ? (groupSize + 15) / 16 * 16 : groupSize
    }

    /// Packs a quantized matrix (a whole-row group of any width included, see `storedGroupSize`).
    public init(_ q: QuantizedMatrix) throws {
        let groupSize = Self.storedGroupSize(q.groupSize, cols: q.cols)
        try Self.validate(rows: q.rows, cols: q.cols, bits: q.bits, groupSize: groupSize)
        var words = [UInt32](repeating: 0, count: BitPacking.wordCount(rows: q.rows, cols: q.cols, bits: q.bits))
        words.withUnsafeMutableBufferPointer { w in
            for r in 0..<q.rows {
                for c in 0..<q.cols {
                    BitPacking.set(UInt32(q.codes[r * q.cols + c]), row: r, col: c, cols: q.cols, bits: q.bits, in: w.baseAddress!)
                }
            }
        }
        self.init(rows: q.rows, cols: q.cols, bits: q.bits, groupSize: groupSize, words: words, scales: q.scales, zeros: q.zeros, offsets: q.offsets)
    }

    /// Assembles stored parts (used by deserialization, which validates them first).
    init(rows: Int, cols: Int, bits: Int, groupSize: Int, words: [UInt32], scales: [Float], zeros: [Float], offsets: [Float]? = nil) {
        self.rows = rows
        self.cols = cols
        self.bits = bits
        self.groupSize = groupSize
        self.words = words
        self.scales = scales
        self.zeros = zeros
        self.offsets = offsets
        let gc = (cols + groupSize - 1) / groupSize, lanes = BitPacking.tileRows
        var ls = [Float](repeating: 0, count: BitPacking.paddedRows(rows) * gc), lz = ls, lo = ls
        for r in 0..<rows {
            for g in 0..<gc {
                let i = ((r / lanes) * gc + g) * lanes + r % lanes
                ls[i] = scales[r * gc + g]
                lz[i] = zeros[r * gc + g]
                if let offsets { lo[i] = offsets[r * gc + g] }
            }
        }
        laneScales = ls
        laneZeros = lz
        laneOffsets = offsets == nil ? [] : lo
    }

    /// The code at (row, col), unpacked one at a time.
    public func code(row: Int, col: Int) -> UInt8 {
        words.withUnsafeBufferPointer { UInt8(BitPacking.get(row: row, col: col, cols: cols, bits: bits, in: $0.baseAddress!)) }
    }

    /// All codes, unpacked (rows, cols).
    public func unpacked() -> QuantizedMatrix {
        var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        for r in 0..<rows { for c in 0..<cols { q.codes[r * cols + c] = code(row: r, col: c) } }
        q.scales = scales
        q.zeros = zeros
        q.offsets = offsets
        return q
    }

    /// Every weight, dequantized with the SIMD decoders.
    public func dequantized() -> Matrix {
        var m = Matrix(zeros: rows, cols)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCols * BitPacking.paddedRows(rows)) { scratch in
            m.storage.withUnsafeMutableBufferPointer {
                dequantize(tiles: 0..<tiles, into: $0.baseAddress!, scratch: scratch.baseAddress!)
            }
        }
        return m
    }

    /// Writes the rows of tiles `range` row-major into `out` (row stride `cols`), by way of their
    /// transpose as the decoders write it into `scratch` (paddedCols · 16 · range.count floats).
    func dequantize(tiles range: Range<Int>, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let lanes = BitPacking.tileRows, ld = lanes * range.count
        dequantizeTransposed(tiles: range, into: scratch, ld: ld)
        BLAS.transpose(rows: cols, cols: min(rows, lanes * range.upperBound) - lanes * range.lowerBound,
                       a: scratch, lda: ld, b: out, ldb: cols)
    }

    /// `dequantizeTransposed` rounded to bf16 (as `BF16.round`): Wᵀ for row tiles `range` into `out`
    /// (ld ≥ 16·range.count), a few tiles at a time decoded into an L2-sized fp32 buffer and rounded
    /// from there on both cores, so the fp32 matrix never reaches memory (a bf16 product's operand).
    func dequantizeTransposedBF16(tiles range: Range<Int>, into out: UnsafeMutablePointer<UInt16>, ld: Int) {
        let lanes = BitPacking.tileRows, step = max(1, Self.roundingBufferFloats / (paddedCols * lanes))
        BF16.staged(range, by: step, bufferFloats: paddedCols * lanes * step) { tiles, buffer in
            let width = lanes * tiles.count
            dequantizeTransposed(tiles: tiles, into: buffer, ld: width)
            BF16.round(buffer, ld: width, rows: cols, cols: width, into: out + lanes * (tiles.lowerBound - range.lowerBound), ldOut: ld)
        }
    }

    /// The fp32 buffer one core decodes into before rounding (256 KiB: in L2 with room to spare).
    static let roundingBufferFloats = 1 << 16

    /// Writes Wᵀ for row tiles `range` into `out`: column c of tile i's rows goes to
    /// out[c·ld + 16·(i − range.lowerBound) …] (ld ≥ 16·range.count). Rows past `rows` and
    /// columns past `cols` receive garbage-free but meaningless values and must be ignored.
    func dequantizeTransposed(tiles range: Range<Int>, into out: UnsafeMutablePointer<Float>, ld: Int) {
        switch bits {
        case 2: dequantizeTransposed(Width2.self, range, out, ld)
        case 3: dequantizeTransposed(Width3.self, range, out, ld)
        case 4: dequantizeTransposed(Width4.self, range, out, ld)
        case 5: dequantizeTransposed(Width5.self, range, out, ld)
        case 6: dequantizeTransposed(Width6.self, range, out, ld)
        case 7: dequantizeTransposed(Width7.self, range, out, ld)
        default: dequantizeTransposed(Width8.self, range, out, ld)
        }
    }

    private func dequantizeTransposed<W: CodeWidth>(_: W.Type, _ range: Range<Int>, _ out: UnsafeMutablePointer<Float>, _ ld: Int) {
        let gc = groupCount, chunks = self.chunks, b = bits, lanes = BitPacking.tileRows
        // 2^−shift per field undoes the in-place masking (exact: powers of two).
        let unshift = (0..<BitPacking.chunkCodes).map { Float(sign: .plus, exponent: -BitPacking.fieldShift($0, bits: b), significand: 1) }
        words.withUnsafeBytes { w in
            laneScales.withUnsafeBufferPointer { s in
                laneZeros.withUnsafeBufferPointer { z in
                    laneOffsets.withUnsafeBufferPointer { o in
                        let offsetForm = !o.isEmpty
                        for tile in range {
                            let dst = out + lanes * (tile - range.lowerBound)
                            for chunk in 0..<chunks {
                                let block = w.baseAddress! + 4 * BitPacking.blockOffset(tile: tile, chunk: chunk, chunks: chunks, bits: b)
                                for j in 0..<BitPacking.chunkCodes {
                                    // Padding columns past the last group reuse its parameters.
                                    let g = (tile * gc + min((chunk * BitPacking.chunkCodes + j) / groupSize, gc - 1)) * lanes
                                    let scale = UnsafeRawPointer(s.baseAddress! + g).loadUnaligned(as: SIMD16<Float>.self)
                                    let code = W.field(block, j) * unshift[j]
                                    let weight = offsetForm
                                        ? scale * code + UnsafeRawPointer(o.baseAddress! + g).loadUnaligned(as: SIMD16<Float>.self)
                                        : scale * (code - UnsafeRawPointer(z.baseAddress! + g).loadUnaligned(as: SIMD16<Float>.self))
                                    UnsafeMutableRawPointer(dst + (chunk * BitPacking.chunkCodes + j) * ld).storeBytes(of: weight, as: SIMD16<Float>.self)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
