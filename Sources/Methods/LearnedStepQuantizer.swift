import CKernels
import Quantization
import Tensor

/// LSQ/LSQ+ fake quantization with a learned step s and offset b per group (L4Q eq. 3, App. A.1),
/// on the signed n-bit grid [Q_N, Q_P] = [−2^(n−1), 2^(n−1) − 1]. A group is `groupSize`
/// consecutive inputs of one output row; s and b are (rows, cols / groupSize) row-major.
///
/// Forward: w = (W − b)/s, w̃ = round(clamp(w, Q_N, Q_P)) (half to even, as torch), W_q = s·w̃ + b.
/// W_q is evaluated as s·(c − z) with the stored code c = w̃ − Q_N ∈ [0, 2^n − 1] and zero
/// z = −Q_N − b/s: the exact form `PackedWeights` dequantizes, so an exported integer layer
/// reproduces the training forward's W_q bit for bit (same codes, same float operations).
///
/// Backward (STE, eqs. 16–21), with M = 1[Q_N ≤ w ≤ Q_P]:
///   ∂W_q/∂W = M;  ∂W_q/∂s = w̃ − w where M = 1, else the clamp bound Q_N or Q_P;  ∂W_q/∂b = 1 − M.
/// The s and b gradients are summed per group and multiplied by the gradient scale g.
public struct LearnedStepQuantizer: Equatable, Sendable {
    /// The factor g on the s and b gradients. The paper gives no value; the reference code has a
    /// `g`, and LSQ's choice is 1/√(N·Q_P) with N the weights sharing a step. With AdamW the factor
    /// matters little (it rescales the whole update of s and b only through ε and gradient clipping).
    public enum GradientScale: String, Codable, Equatable, Sendable {
        /// g = 1 (the default; the gradient check of the spec uses it).
        case one
        /// g = 1/√(groupSize·Q_P) (LSQ).
        case lsq
    }

    public let bits: Int
    public let groupSize: Int
    public let gradientScale: GradientScale
    public let initialization: Initialization

    public init(bits: Int, groupSize: Int, gradientScale: GradientScale = .one, initialization: Initialization = .l4q) {
        precondition((2...8).contains(bits) && groupSize > 0, "validated by LayerQuantization")
        self.bits = bits
        self.groupSize = groupSize
        self.gradientScale = gradientScale
        self.initialization = initialization
    }

    public var qn: Float { -Float(1 << (bits - 1)) }
    public var qp: Float { Float((1 << (bits - 1)) - 1) }
    public var g: Float { gradientScale == .one ? 1 : 1 / (Float(groupSize) * qp).squareRoot() }

    /// Groups per row of a (·, cols) weight.
    public func groups(cols: Int) -> Int { cols / groupSize }

    /// The zero z of `PackedWeights`' form s·(c − z) that equals s·w̃ + b.
    @inline(__always) func zero(step s: Float, offset b: Float) -> Float { -qn - b / s }

    /// How s and b start (L4Q App. B, Table 4 / Figure 3), computed per group of W.
    public enum Initialization: Int, Codable, Equatable, Sendable, CaseIterable {
        /// L4Q_init (eq. 15): s = max(|min W / Q_N|, |max W / Q_P|), b = 0 — the narrowest
        /// symmetric step that clips nothing. The default.
        case l4q = 0
        /// Asymm: s = (max − min)/(Q_P − Q_N), b = min − s·Q_N: the grid spans exactly [min, max].
        case asymmetric = 1
        /// Symm: s = max|W| / 2^(n−1), b = 0 (clips the positive extreme).
        case symmetric = 2
        /// LSQ+init: s = max(|μ − 3σ|, |μ + 3σ|) / 2^(n−1), b = 0.
        case lsqPlus = 3
    }

    /// Sets s and b of every group of W (rows, cols) by `initialization`. A group whose rule gives
    /// no positive step (all weights equal) gets s = 1 and b = its value, which it then holds exactly.
    public func initialize(_ w: UnsafePointer<Float>, rows: Int, cols: Int,
                           step: UnsafeMutablePointer<Float>, offset: UnsafeMutablePointer<Float>) {
        let half = Float(1 << (bits - 1))
        for i in 0..<(rows * groups(cols: cols)) {
            let p = w + (i / groups(cols: cols)) * cols + (i % groups(cols: cols)) * groupSize
            var lo = Float.infinity, hi = -Float.infinity, sum = 0.0, squares = 0.0
            for j in 0..<groupSize {
                lo = min(lo, p[j])
                hi = max(hi, p[j])
                sum += Double(p[j])
                squares += Double(p[j]) * Double(p[j])
            }
            var s: Float, b: Float = 0
            switch initialization {
            case .l4q: s = max(abs(lo / qn), abs(hi / qp))
            case .asymmetric:
                s = (hi - lo) / (qp - qn)
                b = lo - s * qn
            case .symmetric: s = max(abs(lo), abs(hi)) / half
            case .lsqPlus:
                let mean = sum / Double(groupSize), sd = max(0, squares / Double(groupSize) - mean * mean).squareRoot()
                s = Float(max(abs(mean - 3 * sd), abs(mean + 3 * sd))) / half
            }
            step[i] = s > 0 ? s : 1
            offset[i] = s > 0 ? b : lo
        }
    }

    /// Overwrites W (rows, cols) with W_q.
    public func fakeQuantize(_ w: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                             step: UnsafePointer<Float>, offset: UnsafePointer<Float>) {
        qaft_lsq_fake_quantize(w, groupCount(rows: rows, cols: cols), groupSize, step, offset, qn, qp)
    }

    /// The squared errors of quantizing W (rows, cols), summed: E_quant = Σ (W − W_q)² and
    /// E_clip = Σ (W − clamp(W, s·Q_N + b, s·Q_P + b))², the part due to weights outside the grid's
    /// range (L4Q Table 4 / Figure 3 compare both before and after training; the paper does not
    /// define them further, this is the reading its zero E_clip for L4Q_init and Asymm implies).
    public func errors(_ w: UnsafePointer<Float>, rows: Int, cols: Int,
                       step: UnsafePointer<Float>, offset: UnsafePointer<Float>) -> (quantization: Double, clipping: Double) {
        let perRow = groups(cols: cols)
        var row = [Float](repeating: 0, count: cols), quantization = 0.0, clipping = 0.0
        for r in 0..<rows {
            let source = w + r * cols
            row.withUnsafeMutableBufferPointer { q in
                q.baseAddress!.update(from: source, count: cols)
                fakeQuantize(q.baseAddress!, rows: 1, cols: cols, step: step + r * perRow, offset: offset + r * perRow)
            }
            for j in 0..<cols {
                let s = step[r * perRow + j / groupSize], b = offset[r * perRow + j / groupSize]
                let e = Double(source[j] - row[j]), c = Double(source[j] - min(max(source[j], s * qn + b), s * qp + b))
                quantization += e * e
                clipping += c * c
            }
        }
        return (quantization, clipping)
    }

    /// The backward of W_q = Q(W) for one layer. `gradient` holds ∂L/∂W_q (rows, cols); s and b
    /// gradients (× g) are added into `dStep`/`dOffset`. With `masked` (which may be `gradient`
    /// itself), the STE weight gradient M ⊙ ∂L/∂W_q is written there; with `quantized` (which may
    /// be `weight` itself), W_q. Each element is read before anything is written over it.
    public func backward(
        weight: UnsafePointer<Float>, rows: Int, cols: Int, step: UnsafePointer<Float>, offset: UnsafePointer<Float>,
        gradient: UnsafePointer<Float>, masked: UnsafeMutablePointer<Float>?, quantized: UnsafeMutablePointer<Float>?,
        dStep: UnsafeMutablePointer<Float>, dOffset: UnsafeMutablePointer<Float>
    ) {
        qaft_lsq_backward(weight, groupCount(rows: rows, cols: cols), groupSize, step, offset, qn, qp, g,
                          gradient, masked, quantized, dStep, dOffset)
    }

    /// The stored form: codes c = w̃ − Q_N, scales s and zeros z = −Q_N − b/s, in `q` (whose
    /// group count per row must equal this quantizer's; `q.groupSize` may be the packed size).
    public func quantize(_ w: UnsafePointer<Float>, step: UnsafePointer<Float>, offset: UnsafePointer<Float>,
                         into q: inout QuantizedMatrix) {
        let rows = q.rows, cols = q.cols
        precondition(q.groupCount == groups(cols: cols), "packed groups must match the quantizer's groups")
        q.codes.withUnsafeMutableBufferPointer { codes in
            qaft_lsq_codes(w, groupCount(rows: rows, cols: cols), groupSize, step, offset, qn, qp, codes.baseAddress!)
        }
        let gc = q.groupCount
        for r in 0..<rows {
            for g in 0..<gc {
                let s = step[r * gc + g]
                q.setParameters(row: r, group: g, GridParameters(scale: s, zero: zero(step: s, offset: offset[r * gc + g])))
            }
        }
    }

    /// Groups of a (rows, cols) weight, stored one after another (a row holds whole groups).
    private func groupCount(rows: Int, cols: Int) -> Int {
        precondition(cols % groupSize == 0, "validated by LayerQuantization")
        return rows * groups(cols: cols)
    }
}
