import Foundation
@testable import Methods
import Models
import Tensor
import Training
import XCTest

/// The LSQ+ layer gradients written plainly in float64 from the paper's equations (L4Q eqs. 3,
/// 16–21), as an autograd would compose them: merge → fake-quant → matmul, STE for round, g = 1.
/// The hand-written float32 backwards are checked against it.
enum LearnedStepReference {
    struct Quantized {
        var wq: [Double]
        /// ∂W_q/∂W (the STE mask), ∂W_q/∂s and ∂W_q/∂b, elementwise.
        var mask: [Double], dStep: [Double], dOffset: [Double]
    }

    /// W_q = s·round(clamp((W − b)/s)) + b and its local derivatives, groups of `gs` along each row.
    static func quantize(_ w: [Double], s: [Double], b: [Double], rows: Int, cols: Int, gs: Int, bits: Int) -> Quantized {
        let qn = -Double(1 << (bits - 1)), qp = Double((1 << (bits - 1)) - 1)
        var out = Quantized(wq: w, mask: w, dStep: w, dOffset: w)
        for r in 0..<rows {
            for c in 0..<cols {
                let i = r * cols + c, g = r * (cols / gs) + c / gs
                let ratio = (w[i] - b[g]) / s[g]
                let inside = ratio >= qn && ratio <= qp
                let code = min(max(ratio, qn), qp).rounded(.toNearestOrEven)
                out.wq[i] = code * s[g] + b[g]
                out.mask[i] = inside ? 1 : 0
                out.dStep[i] = inside ? code - ratio : code
                out.dOffset[i] = inside ? 0 : 1
            }
        }
        return out
    }

    /// Distance of (W − b)/s from the nearest discontinuity of the STE rules (a rounding midpoint,
    /// where float32 and float64 may round differently, or a clamp bound, where ∂W_q/∂s jumps).
    static func margin(_ w: Double, s: Double, b: Double, bits: Int) -> Double {
        let qn = -Double(1 << (bits - 1)), qp = Double((1 << (bits - 1)) - 1)
        let ratio = (w - b) / s
        let frac = ratio - ratio.rounded(.down)
        return min(abs(frac - 0.5), abs(ratio - qn), abs(ratio - qp))
    }

    /// C (m×n) = A (m×k) · B (k×n), with transposes given as flags, all row-major doubles.
    static func matmul(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                if av == 0 { continue }
                for j in 0..<n { c[i * n + j] += av * (transB ? b[j * k + p] : b[p * n + j]) }
            }
        }
        return c
    }

    /// Per-group sums of g ⊙ d.
    static func groupSums(_ g: [Double], _ d: [Double], rows: Int, cols: Int, gs: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * (cols / gs))
        for r in 0..<rows { for c in 0..<cols { out[r * (cols / gs) + c / gs] += g[r * cols + c] * d[r * cols + c] } }
        return out
    }
}

/// ‖a − b‖ / ‖b‖ of a float32 result against its float64 reference.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes \(a.count) vs \(b.count)")
    var num = 0.0, den = 0.0
    for i in 0..<a.count {
        num += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i])
        den += b[i] * b[i]
    }
    return (num / max(den, 1e-300)).squareRoot()
}

extension Parameter {
    var doubles: [Double] { value.array(count).map(Double.init) }
    var gradientDoubles: [Float] { gradient.array(count) }
}

func doubles(_ m: Matrix) -> [Double] { m.storage.map(Double.init) }

/// `count` Gaussian floats times `scale`.
func gaussian(_ count: Int, _ scale: Float, _ rng: inout SeededRandom) -> [Float] {
    (0..<count).map { _ in scale * rng.nextGaussian() }
}
