/// OWQ/QEFT's quantization-range search (`Quantizer.find_params` with `mse=True` in
/// xvyaward/owq and xvyaward/qeft `quant.py`), reproduced operation for operation so the chosen
/// (scale, zero) match the reference: candidate i of n shrinks the group's range (which includes 0)
/// to i/n of it; the asymmetric grid additionally tries every integer zero shift; the winner
/// minimises Σ|w − ŵ|^p (first strict minimum wins). Scores are summed over SIMD lanes with a fast
/// vector |e|^p (≈1e-7 relative), so near-ties may resolve differently from torch's `pow`.
struct LpRangeSearch {
    let quantizer: UniformQuantizer
    let candidates: Int
    let norm: Float

    typealias V = SIMD16<Float>
    static let eps: Float = 1e-8

    init(quantizer: UniformQuantizer, candidates: Int, norm: Float) {
        self.quantizer = quantizer
        self.candidates = candidates
        self.norm = norm
    }

    func parameters(_ w: UnsafeBufferPointer<Float>) -> GridParameters {
        let lanes = (w.count + 15) / 16
        // Zero padding is harmless: 0 stays exactly 0 under every candidate grid, adding no error.
        return withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * lanes) { buf in
            let x = buf.baseAddress!, rounded = x + lanes
            for l in 0..<lanes {
                var v = V(repeating: 0)
                for j in 0..<min(16, w.count - 16 * l) { v[j] = w[16 * l + j] }
                x[l] = v
            }
            var lo: Float = 0, hi: Float = 0
            for v in w { lo = min(lo, v); hi = max(hi, v) }
            return quantizer.grid == .symmetric
                ? symmetric(x, rounded, lanes, lo, hi)
                : asymmetric(x, rounded, lanes, lo, hi)
        }
    }

    private func asymmetric(_ x: UnsafeMutablePointer<V>, _ xr: UnsafeMutablePointer<V>, _ lanes: Int,
                            _ xmin: Float, _ xmax: Float) -> GridParameters {
        let maxq = Float(quantizer.maxCode)
        let range = xmax - xmin
        var best = Float(1e10), bestMin = xmin, bestMax = xmax
        for i in 1...candidates {
            let tmpMax = range / Float(candidates) * Float(i)
            let scale = max(tmpMax / maxq, Self.eps)
            for l in 0..<lanes { xr[l] = VectorOps.roundEven(VectorOps.clamp(x[l] / scale, -4e6, 4e6)) }
            for zp in 0...quantizer.maxCode {
                let newMin = -(Float(zp) * scale)
                let newMax = tmpMax - Float(zp) * scale
                let zero = min(max(-(newMin / scale).rounded(.toNearestOrEven), 0), maxq)
                var acc = V(repeating: 0)
                for l in 0..<lanes {
                    let q = VectorOps.clamp(xr[l] + zero, 0, maxq)
                    acc += Self.power(x[l] - scale * (q - zero), norm)
                }
                let score = acc.sum()
                if score < best { best = score; bestMin = newMin; bestMax = newMax }
            }
        }
        let lo = min(bestMin, 0), hi = max(bestMax, 0)
        let scale = max((hi - lo) / maxq, Self.eps)
        return GridParameters(scale: scale, zero: min(max(-(lo / scale).rounded(.toNearestOrEven), 0), maxq))
    }

    private func symmetric(_ x: UnsafeMutablePointer<V>, _ xr: UnsafeMutablePointer<V>, _ lanes: Int,
                           _ xmin: Float, _ xmax: Float) -> GridParameters {
        let half = quantizer.signedHalf
        let range = max(abs(xmin), xmax)
        var best = Float(1e10), bestMax = xmax
        for i in 1...candidates {
            let tmpMax = range / Float(candidates) * Float(i)
            let scale = max(tmpMax / half, Self.eps)
            var acc = V(repeating: 0)
            for l in 0..<lanes {
                let q = VectorOps.clamp(VectorOps.roundEven(VectorOps.clamp(x[l] / scale, -4e6, 4e6)), -half, half - 1)
                acc += Self.power(x[l] - scale * q, norm)
            }
            let score = acc.sum()
            if score < best { best = score; bestMax = tmpMax }
        }
        return GridParameters(scale: max(max(bestMax, 0) / half, Self.eps), zero: half)
    }

    /// |e|^p = 2^(p·log2|e|), with log2 from the exponent bits plus an atanh series on the mantissa
    /// and 2^f from a degree-7 Taylor polynomial; both ≈1e-7 relative.
    @inline(__always)
    static func power(_ e: V, _ p: Float) -> V {
        let bits = unsafeBitCast(e, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
        // |e| below 2⁻⁹⁹ counts as 2⁻⁹⁹ (keeps log2 finite; its power is negligible).
        let a = unsafeBitCast(VectorOps.clampBits(bits, 0x0E00_0000), to: V.self)
        let abits = unsafeBitCast(a, to: SIMD16<UInt32>.self)
        var exponent = VectorOps.toFloat(abits &>> 23) - 127
        var m = unsafeBitCast((abits & 0x7F_FFFF) | 0x3F80_0000, to: V.self)
        // Fold the mantissa into [√½, √2) so the series argument stays small.
        let big = VectorOps.step(m, 1.41421356)
        m = m * (1 - 0.5 * big)
        exponent = exponent + big
        let t = (m - 1) / (m + 1), t2 = t * t
        let c1: Float = 2.8853900817779268, c3: Float = 0.9617966939259756, c5: Float = 0.5770780163555854
        let c7: Float = 0.41219858311113246, c9: Float = 0.3205988979753252
        let log2a = exponent + t * (c1 + t2 * (c3 + t2 * (c5 + t2 * (c7 + t2 * c9))))
        let y = VectorOps.clamp(p * log2a, -126, 126)
        let n = VectorOps.roundEven(y)
        let f = (y - n) * 0.6931471805599453
        var poly = V(repeating: 1.0 / 5040)
        poly = poly * f + 1.0 / 720
        poly = poly * f + 1.0 / 120
        poly = poly * f + 1.0 / 24
        poly = poly * f + 1.0 / 6
        poly = poly * f + 0.5
        poly = poly * f + 1
        poly = poly * f + 1
        // 2^n from the exponent field: n + 127 sits in the mantissa of 2²³ + n + 127.
        let scale = unsafeBitCast(unsafeBitCast(n + 8_388_735, to: SIMD16<UInt32>.self) &<< 23, to: V.self)
        return poly * scale
    }
}
