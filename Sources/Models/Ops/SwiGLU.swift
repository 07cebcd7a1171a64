import Tensor

/// SwiGLU's gate: h = silu(g) ⊙ u, silu(g) = g·σ(g).
///
/// Shapes: g, u, h, dh, dg, du (n) — any layout, elementwise.
/// Forward saves for backward: g and u (h is recomputed). A long pass splits over the two cores
/// at a multiple of the vector width, so each value takes the same vector or scalar path as unsplit.
public enum SwiGLU {
    public static func forward(
        gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, count n: Int, into h: UnsafeMutablePointer<Float>
    ) {
        let one = Float16x(repeating: 1)
        SecondCore.shared.halves(rows: n, width: 1, block: 16) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let gv = SIMDMath.load(g + i)
                SIMDMath.store(gv / (one + SIMDMath.exp(-gv)) * SIMDMath.load(u + i), h + i)
                i += 16
            }
            while i < range.upperBound { h[i] = g[i] / (1 + SIMDMath.exp(-g[i])) * u[i]; i += 1 }
        }
    }

    /// dg = dh ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))), du = dh ⊙ silu(g), overwriting dg and du (which may
    /// alias g and u: each element is read before it is written).
    public static func backward(
        _ dh: UnsafePointer<Float>, gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, count n: Int,
        dGate dg: UnsafeMutablePointer<Float>, dUp du: UnsafeMutablePointer<Float>
    ) {
        let one = Float16x(repeating: 1)
        SecondCore.shared.halves(rows: n, width: 1, block: 16) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let gv = SIMDMath.load(g + i), uv = SIMDMath.load(u + i), dv = SIMDMath.load(dh + i)
                let s = one / (one + SIMDMath.exp(-gv))
                SIMDMath.store(dv * uv * s * (one + gv * (one - s)), dg + i)
                SIMDMath.store(dv * gv * s, du + i)
                i += 16
            }
            while i < range.upperBound {
                let gv = g[i], uv = u[i], s = 1 / (1 + SIMDMath.exp(-gv))
                dg[i] = dh[i] * uv * s * (1 + gv * (1 - s))
                du[i] = dh[i] * gv * s
                i += 1
            }
        }
    }
}
