import Tensor

/// RMSNorm: y = x / √(mean(x²) + ε) ⊙ w.
///
/// Shapes: x, y, dy, dx (rows, dim); w, dw (dim); rstd (rows).
/// Forward saves for backward: rstd = 1/√(mean(x²) + ε) per row (and needs x itself).
/// Rows are independent: a long pass splits its rows over the two cores (`SecondCore.halves`).
public enum RMSNorm {
    public static func forward(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, eps: Float, rows: Int, dim: Int,
        into y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>? = nil
    ) {
        SecondCore.shared.halves(rows: rows, width: dim) { range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                let inv = 1 / (SIMDMath.dot(xr, xr, dim) / Float(dim) + eps).squareRoot()
                rstd?[r] = inv
                let vinv = Float16x(repeating: inv)
                var i = 0
                while i + 16 <= dim {
                    SIMDMath.store(SIMDMath.load(xr + i) * vinv * SIMDMath.load(w + i), yr + i)
                    i += 16
                }
                while i < dim { yr[i] = xr[i] * inv * w[i]; i += 1 }
            }
        }
    }

    /// dx += ∂L/∂x and, when `dweight` is given, dw += ∂L/∂w. With r = rstd and ĝ = w ⊙ dy:
    /// dx = r·ĝ − r³/dim · x · (ĝ·x). Accumulates because x is the residual stream, whose
    /// gradient also flows around the norm. dw sums over the rows in order, so with `dweight` the
    /// pass stays on one core.
    public static func backward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, rows: Int, dim: Int,
        dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>? = nil
    ) {
        func row(_ r: Int) {
            let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
            let inv = rstd[r]
            var acc = Float16x(repeating: 0), i = 0
            while i + 16 <= dim {
                acc += SIMDMath.load(w + i) * SIMDMath.load(dyr + i) * SIMDMath.load(xr + i)
                i += 16
            }
            var dot = acc.sum()
            while i < dim { dot += w[i] * dyr[i] * xr[i]; i += 1 }
            let c = inv * inv * inv * dot / Float(dim)
            let vinv = Float16x(repeating: inv), vc = Float16x(repeating: c)
            i = 0
            while i + 16 <= dim {
                let g = SIMDMath.load(w + i) * SIMDMath.load(dyr + i)
                SIMDMath.store(SIMDMath.load(dxr + i) + vinv * g - vc * SIMDMath.load(xr + i), dxr + i)
                i += 16
            }
            while i < dim { dxr[i] += inv * w[i] * dyr[i] - c * xr[i]; i += 1 }
            if let dw = dweight {
                for j in 0..<dim { dw[j] += dyr[j] * xr[j] * inv }
            }
        }
        if dweight != nil {
            for r in 0..<rows { row(r) }
        } else {
            SecondCore.shared.halves(rows: rows, width: dim) { for r in $0 { row(r) } }
        }
    }
}
