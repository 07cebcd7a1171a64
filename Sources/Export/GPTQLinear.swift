import Models
import Quantization

/// How a GPTQ checkpoint stores zero points (`quantization_config.checkpoint_format`).
public enum GPTQCheckpointFormat: String, Sendable, Codable {
    /// GPTQ v1, what AutoGPTQ wrote and vLLM, transformers and GPTQModel read: each zero is stored
    /// minus one. GPTQModel turns it back by adding 1 to every packed field *of the whole int32
    /// word*, so a stored −1 (zero 0) would carry into its neighbour: v1 holds zeros 1…2^b−1 only.
    case gptq
    /// GPTQModel's v2: zeros stored as they are (0…2^b−1); GPTQModel and transformers (through
    /// GPTQModel) read it, vLLM does not.
    case gptqV2 = "gptq_v2"

    /// The zero points this format can hold.
    public func zeroRange(bits: Int) -> ClosedRange<Int> { self == .gptq ? 1...(1 << bits) - 1 : 0...(1 << bits) - 1 }

    /// The stored field of zero point `z`.
    func stored(_ z: Int) -> UInt32 { UInt32(self == .gptq ? z - 1 : z) }
}

/// One projection in GPTQ's tensors, with whether they dequantize to the grid exactly.
///
/// GPTQ stores integer zero points and fp16 scales, and its consumers compute
/// `scale[g] · (code − zero[g])` with g = `g_idx[in]` *in fp16* (GPTQModel's torch kernels keep the
/// scales' dtype, vLLM's kernels are fp16), so the product is rounded to fp16 too. A grid is stored
/// exactly when its zeros are integers in the format's range, its scales fp16 numbers and every
/// product fp16-representable (`GridParameters.deployable` makes the quantizers' scales so); otherwise a scale is rounded to
/// the nearest fp16 and the tensor reported inexact with its largest weight change. A zero point GPTQ
/// cannot store (fractional: learned offsets, LSQ+, L4Q's affine grids; or outside the format's
/// range) is refused: rounding it would move every weight of its group by up to half a step.
public struct GPTQLinear {
    /// [in·bits/32, out]
    public let qweight: [Int32]
    /// [groups, out·bits/32]
    public let qzeros: [Int32]
    /// [groups, out], fp16 bit patterns.
    public let scales: [UInt16]
    /// [in]: the group of each input column (no act-order permutation).
    public let gIdx: [Int32]
    public let groups: Int
    /// Whether every dequantized weight equals the grid's, bit for bit in float32.
    public let exact: Bool
    /// The largest |GPTQ weight − grid weight|.
    public let maxAbsError: Float

    /// The zero point GPTQ stores for a grid zero, or nil when the format cannot hold it (not an
    /// integer, or outside its range).
    public static func integerZero(_ zero: Float, bits: Int, format: GPTQCheckpointFormat) -> Int? {
        guard zero.isFinite, abs(zero) < 65536, zero == zero.rounded() else { return nil }
        let z = Int(zero)
        return format.zeroRange(bits: bits).contains(z) ? z : nil
    }

    /// GPTQ's tensors of `grid`; `name` names the tensor in errors.
    public init(_ grid: QuantizedMatrix, format: GPTQCheckpointFormat, name: String) throws {
        let bits = grid.bits, rows = grid.rows, cols = grid.cols, gc = grid.groupCount
        func refuse(_ reason: String) -> ExportError { .unrepresentable(site: name, format: "GPTQ", reason: reason) }
        guard GPTQPacking.supportedBits.contains(bits) else {
            throw refuse("\(bits)-bit codes (GPTQ stores \(GPTQPacking.supportedBits.map(String.init).joined(separator: ", ")) bits)")
        }
        guard cols % 32 == 0, rows % 32 == 0 else {
            throw refuse("shape \(rows)×\(cols) (out × in): GPTQ packs 32 values per unit along both, so both must be multiples of 32")
        }
        guard grid.offsets == nil else {
            throw refuse("its zero points are fractional (trained), kept exact as llama.cpp's Q4_1 offsets d·q + m; GPTQ stores integer zeros")
        }
        var zeros = [UInt32](repeating: 0, count: gc * rows)
        var scales = [UInt16](repeating: 0, count: gc * rows)
        var integerZeros = [Float](repeating: 0, count: gc * rows)
        var halfScales = [Float](repeating: 0, count: gc * rows)
        for r in 0..<rows {
            for g in 0..<gc {
                let p = grid.parameters(row: r, group: g)
                guard let z = Self.integerZero(p.zero, bits: bits, format: format) else {
                    let range = format.zeroRange(bits: bits)
                    throw refuse("row \(r) group \(g) has zero point \(p.zero); checkpoint_format \(format.rawValue) at \(bits) bits "
                                 + "stores integer zeros \(range.lowerBound)…\(range.upperBound)")
                }
                let half = Float16(p.scale)
                guard p.scale.isFinite, half.isFinite else {
                    throw refuse("row \(r) group \(g) has scale \(p.scale), outside fp16's range")
                }
                zeros[g * rows + r] = format.stored(z)
                scales[g * rows + r] = half.bitPattern
                integerZeros[r * gc + g] = Float(z)
                halfScales[r * gc + g] = Float(half)
            }
        }
        var exact = true
        var maxError: Float = 0
        for r in 0..<rows {
            for c in 0..<cols {
                let g = r * gc + c / grid.groupSize, code = Float(grid.codes[r * cols + c])
                // fp16 × small integer is exact in float32, so rounding it once to fp16 is the fp16 product.
                let mine = Float(Float16(halfScales[g] * (code - integerZeros[g])))
                let theirs = grid.scales[g] * (code - grid.zeros[g])
                if mine.bitPattern != theirs.bitPattern { exact = false }
                maxError = max(maxError, abs(mine - theirs))
            }
        }
        qweight = GPTQPacking.qweight(codes: grid.codes, rows: rows, cols: cols, bits: bits)
        qzeros = GPTQPacking.qzeros(zeros, groups: gc, out: rows, bits: bits)
        self.scales = scales
        gIdx = (0..<cols).map { Int32($0 / grid.groupSize) }
        groups = gc
        self.exact = exact
        maxAbsError = maxError
    }
}
