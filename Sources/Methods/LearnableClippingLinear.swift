import Foundation
import Models
import Quantization
import Tensor
import Training

/// OmniQuant's learnable weight clipping (LWC, Shao et al. 2024, `quantize/quantizer.py`): a frozen
/// float weight fake-quantized on a b-bit asymmetric grid whose range per (output row, input group)
/// is [σ(β)·min W_g, σ(γ)·max W_g], with γ and β the only trainable parameters.
///
/// With q_max = 2^b − 1: s = max((σ(γ)·max − σ(β)·min) / q_max, 1e-5), z = round(−σ(β)·min / s)
/// (no gradient: upstream rounds with `torch.round`), ŵ = s·(clamp(round(w/s) + z, 0, q_max) − z)
/// with the straight-through estimator on round(w/s). So ∂ŵ/∂s = round(w/s) − w/s inside the grid
/// and q − z where the code is clamped; ∂s/∂γ = σ'(γ)·max/q_max, ∂s/∂β = −σ'(β)·min/q_max.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); W, Ŵ (out, in); γ, β (out, in/g). Backward forms
/// dŴ = dyᵀx transiently in a scratch shared by every layer of the model (one layer's backward runs
/// at a time) and reduces it to the (out, in/g) parameter gradients at once; Ŵ is rebuilt from
/// (W, γ, β) rather than kept.
public final class LearnableClippingLinear: TrainableLinear {
    /// Scratch one model's layers share: the effective weight and the weight gradient.
    public final class Workspace {
        let weight = FloatBuffer(), gradient = FloatBuffer()
        public init() {}
    }

    /// OmniQuant's initial γ = β = 4 (σ(4) ≈ 0.982: a mild initial clip).
    public static let initialValue: Float = 4

    public let weight: Matrix
    public let bits: Int
    public let groupSize: Int
    public let upper: Parameter, lower: Parameter
    private let groupMax: [Float], groupMin: [Float]
    private let workspace: Workspace

    public init(weight: Matrix, bits: Int, groupSize: Int, name: String, workspace: Workspace) throws {
        try MethodOptions.validateBits(bits)
        guard groupSize > 0, weight.cols % groupSize == 0 else {
            throw MethodError.invalidOption(option: "groupSize", value: "\(groupSize)", reason: "must divide \(name)'s input width \(weight.cols)")
        }
        self.weight = weight
        self.bits = bits
        self.groupSize = groupSize
        self.workspace = workspace
        let groups = weight.rows * (weight.cols / groupSize)
        upper = Parameter(name: name + ".lwc_upper", rows: weight.rows, cols: weight.cols / groupSize)
        lower = Parameter(name: name + ".lwc_lower", rows: weight.rows, cols: weight.cols / groupSize)
        upper.value.pointer.update(repeating: Self.initialValue, count: groups)
        lower.value.pointer.update(repeating: Self.initialValue, count: groups)
        var hi = [Float](repeating: -.infinity, count: groups), lo = [Float](repeating: .infinity, count: groups)
        for r in 0..<weight.rows {
            for c in 0..<weight.cols {
                let g = r * (weight.cols / groupSize) + c / groupSize, w = weight[r, c]
                hi[g] = max(hi[g], w)
                lo[g] = min(lo[g], w)
            }
        }
        groupMax = hi
        groupMin = lo
    }

    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }
    public var parameters: [Parameter] { [upper, lower] }
    private var groupCount: Int { upper.count }
    private var maxCode: Float { Float((1 << bits) - 1) }

    private static func sigmoid(_ v: Float) -> Float { 1 / (1 + Foundation.exp(-v)) }

    /// Scale and zero of group g from the current γ, β.
    private func grid(_ g: Int) -> GridParameters {
        let s = max((Self.sigmoid(upper.value.pointer[g]) * groupMax[g] - Self.sigmoid(lower.value.pointer[g]) * groupMin[g]) / maxCode, 1e-5)
        let z = min(max(-Self.sigmoid(lower.value.pointer[g]) * groupMin[g] / s, -1e4), 1e4).rounded(.toNearestOrEven)
        return GridParameters(scale: s, zero: z)
    }

    /// The learned grid as integer codes with per-group scale and zero: what export stores.
    public func quantized() -> QuantizedMatrix {
        var q = QuantizedMatrix(rows: outFeatures, cols: inFeatures, bits: bits, groupSize: groupSize)
        let perRow = inFeatures / groupSize
        for r in 0..<outFeatures {
            for gi in 0..<perRow {
                let p = grid(r * perRow + gi)
                q.setParameters(row: r, group: gi, p)
                for c in (gi * groupSize)..<((gi + 1) * groupSize) {
                    let t = min(max((weight[r, c] / p.scale).rounded(.toNearestOrEven) + p.zero, 0), maxCode)
                    q.codes[r * inFeatures + c] = UInt8(t)
                }
            }
        }
        return q
    }

    /// Ŵ into the shared workspace.
    private func effectiveWeight() -> UnsafeMutablePointer<Float> {
        let n = inFeatures, perRow = n / groupSize, qmax = maxCode
        let out = workspace.weight.reserve(outFeatures * n)
        weight.storage.withUnsafeBufferPointer { w in
            for g in 0..<groupCount {
                let p = grid(g), base = (g / perRow) * n + (g % perRow) * groupSize
                for i in base..<(base + groupSize) {
                    out[i] = p.scale * (min(max((w[i] / p.scale).rounded(.toNearestOrEven) + p.zero, 0), qmax) - p.zero)
                }
            }
        }
        return out
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Linear.forward(x, weight: effectiveWeight(), rows: rows, in: inFeatures, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let n = inFeatures, m = outFeatures, perRow = n / groupSize, qmax = maxCode
        Linear.backwardInput(dy, weight: effectiveWeight(), rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
        let dw = workspace.gradient.reserve(m * n)
        BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: dw, ldc: n)
        weight.storage.withUnsafeBufferPointer { w in
            for g in 0..<groupCount {
                let p = grid(g), base = (g / perRow) * n + (g % perRow) * groupSize
                var dScale: Float = 0
                for i in base..<(base + groupSize) {
                    let t = w[i] / p.scale, code = t.rounded(.toNearestOrEven) + p.zero
                    dScale += dw[i] * (code < 0 ? -p.zero : code > qmax ? qmax - p.zero : t.rounded(.toNearestOrEven) - t)
                }
                // The 1e-5 floor passes the gradient straight through (upstream `clamp_ste`).
                let su = Self.sigmoid(upper.value.pointer[g]), sl = Self.sigmoid(lower.value.pointer[g])
                upper.gradient.pointer[g] += dScale * su * (1 - su) * groupMax[g] / qmax
                lower.gradient.pointer[g] -= dScale * sl * (1 - sl) * groupMin[g] / qmax
            }
        }
    }
}
