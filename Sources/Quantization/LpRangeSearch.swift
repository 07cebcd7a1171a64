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

    // The loops below are scalar on purpose: LLVM vectorises them to full AVX-512 width, whereas
    // SIMD16 values crossing a call are split into four 128-bit registers (10× slower). Errors go
    // to a buffer and are summed as 16 lane-wise partial sums, the order the reference fixtures use.
    func parameters(_ w: UnsafeBufferPointer<Float>) -> GridParameters {
        let n = (w.count + 15) / 16 * 16
        // Zero padding is harmless: 0 stays exactly 0 under every candidate grid, adding no error.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * n) { buf in
            let x = buf.baseAddress!, rounded = x + n, errors = rounded + n
            x.initialize(repeating: 0, count: n)
            for j in 0..<w.count { x[j] = w[j] }
            var lo: Float = 0, hi: Float = 0
            for v in w { lo = min(lo, v); hi = max(hi, v) }
            let scratch = Scratch(x: x, rounded: rounded, errors: errors, count: n)
            return quantizer.grid == .symmetric ? symmetric(scratch, lo, hi) : asymmetric(scratch, lo, hi)
        }
    }

    private struct Scratch {
        let x, rounded, errors: UnsafeMutablePointer<Float>
        let count: Int

        /// Σ errors as 16 lane-wise partial sums, then across lanes.
        func total() -> Float {
            var acc = V(repeating: 0)
            UnsafeRawPointer(errors).withMemoryRebound(to: V.self, capacity: count / 16) { lanes in
                for l in 0..<count / 16 { acc += lanes[l] }
            }
            return acc.sum()
        }
    }

    private func asymmetric(_ s: Scratch, _ xmin: Float, _ xmax: Float) -> GridParameters {
        let maxq = Float(quantizer.maxCode)
        let range = xmax - xmin
        let (x, xr, e) = (s.x, s.rounded, s.errors)
        var best = Float(1e10), bestMin = xmin, bestMax = xmax
        for i in 1...candidates {
            let tmpMax = range / Float(candidates) * Float(i)
            let scale = max(tmpMax / maxq, Self.eps)
            for j in 0..<s.count { xr[j] = Self.roundEven(min(max(x[j] / scale, -4e6), 4e6)) }
            for zp in 0...quantizer.maxCode {
                let newMin = -(Float(zp) * scale)
                let newMax = tmpMax - Float(zp) * scale
                let zero = min(max(-(newMin / scale).rounded(.toNearestOrEven), 0), maxq)
                for j in 0..<s.count {
                    let q = min(max(xr[j] + zero, 0), maxq)
                    e[j] = Self.power(x[j] - scale * (q - zero), norm)
                }
                let score = s.total()
                if score < best { best = score; bestMin = newMin; bestMax = newMax }
            }
        }
        let lo = min(bestMin, 0), hi = max(bestMax, 0)
        let scale = max((hi - lo) / maxq, Self.eps)
        return GridParameters(scale: scale, zero: min(max(-(lo / scale).rounded(.toNearestOrEven), 0), maxq))
    }

    private func symmetric(_ s: Scratch, _ xmin: Float, _ xmax: Float) -> GridParameters {
        let half = quantizer.signedHalf
        let range = max(abs(xmin), xmax)
        let (x, e) = (s.x, s.errors)
        var best = Float(1e10), bestMax = xmax
        for i in 1...candidates {
            let tmpMax = range / Float(candidates) * Float(i)
            let scale = max(tmpMax / half, Self.eps)
            for j in 0..<s.count {
                let q = min(max(Self.roundEven(min(max(x[j] / scale, -4e6), 4e6)), -half), half - 1)
                e[j] = Self.power(x[j] - scale * q, norm)
            }
            let score = s.total()
            if score < best { best = score; bestMax = tmpMax }
        }
        return GridParameters(scale: max(max(bestMax, 0) / half, Self.eps), zero: half)
    }

    /// Round half to even for |v| < 2²²: adding 1.5·2²³ pushes the fraction out of the mantissa.
    @inline(__always)
    static func roundEven(_ v: Float) -> Float { (v + 12_582_912) - 12_582_912 }

    /// |e|^p = 2^(p·log2|e|), with log2 from the exponent bits plus an atanh series on the mantissa
    /// and 2^f from a degree-7 Taylor polynomial; both ≈1e-7 relative. Branch-free and trap-free,
    /// so the loops calling it vectorise.
    @inline(__always)
    static func power(_ e: Float, _ p: Float) -> Float {
        // |e| below 2⁻⁹⁹ counts as 2⁻⁹⁹ (keeps log2 finite; its power is negligible).
        let bits = max(e.bitPattern & 0x7FFF_FFFF, 0x0E00_0000)
        // The exponent field as a float: place it in the mantissa of 2²³ and subtract 2²³.
        var exponent = Float(bitPattern: (bits &>> 23) | 0x4B00_0000) - 8_388_608 - 127
        var m = Float(bitPattern: (bits & 0x7F_FFFF) | 0x3F80_0000)
        // Fold the mantissa into [√½, √2) so the series argument stays small.
        let big: Float = m > 1.41421356 ? 1 : 0
        m = m * (1 - 0.5 * big)
        exponent = exponent + big
        let t = (m - 1) / (m + 1), t2 = t * t
        let c1: Float = 2.8853900817779268, c3: Float = 0.9617966939259756, c5: Float = 0.5770780163555854
        let c7: Float = 0.41219858311113246, c9: Float = 0.3205988979753252
        let log2a = exponent + t * (c1 + t2 * (c3 + t2 * (c5 + t2 * (c7 + t2 * c9))))
        let y = min(max(p * log2a, -126), 126)
        let n = roundEven(y)
        let f = (y - n) * 0.6931471805599453
        var poly: Float = 1.0 / 5040
        poly = poly * f + 1.0 / 720
        poly = poly * f + 1.0 / 120
        poly = poly * f + 1.0 / 24
        poly = poly * f + 1.0 / 6
        poly = poly * f + 0.5
        poly = poly * f + 1
        poly = poly * f + 1
        // 2^n from the exponent field: n + 127 sits in the mantissa of 2²³ + n + 127.
        return poly * Float(bitPattern: (n + 8_388_735).bitPattern &<< 23)
    }
}
