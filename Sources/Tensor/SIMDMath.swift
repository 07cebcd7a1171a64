import Foundation

/// Vectorised elementwise math on 16-lane Float vectors (one AVX-512 register). Scalar `exp` costs
/// ~10 ns; attention softmax and SwiGLU need tens of millions per forward, so they go through these.
public typealias Float16x = SIMD16<Float>

public enum SIMDMath {
    /// e^x for each lane, Cephes-style: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r,
    /// scaled by 2^n through the exponent bits. Relative error < 3e-7; inputs below −87.3 flush to 0
    /// and above 88.72 give +inf, as softmax and sigmoid want. Rounding and the float→int step use the
    /// 1.5·2²³ trick rather than `rounded()`/`SIMD16<Int32>(_:)`, which Swift emits as out-of-line
    /// generic calls (they cost more than the polynomial).
    @inlinable @inline(__always)
    public static func exp(_ x: Float16x) -> Float16x {
        let hi = Float16x(repeating: 88.3762626647949), lo = Float16x(repeating: -87.3365447504019)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc = xc.replacing(with: lo, where: xc .< lo)
        let magic = Float16x(repeating: 12582912)  // adding 1.5·2²³ rounds to the nearest integer
        let t = xc * Float16x(repeating: 1.442695041) + magic
        let n = t - magic
        // Two-step Cody–Waite reduction keeps r accurate.
        var r = xc - n * Float16x(repeating: 0.693359375)
        r = r + n * Float16x(repeating: 2.12194440e-4)
        var p = Float16x(repeating: 1.9875691500e-4)
        p = p * r + Float16x(repeating: 1.3981999507e-3)
        p = p * r + Float16x(repeating: 8.3334519073e-3)
        p = p * r + Float16x(repeating: 4.1665795894e-2)
        p = p * r + Float16x(repeating: 1.6666665459e-1)
        p = p * r + Float16x(repeating: 5.0000001201e-1)
        p = p * r * r + r + Float16x(repeating: 1)
        let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        var result = p * unsafeBitCast((ni &+ 127) &<< 23, to: Float16x.self)
        result.replace(with: Float16x(repeating: .infinity), where: x .> Float16x(repeating: 88.72283))
        result.replace(with: Float16x(repeating: 0), where: x .< lo)
        return result
    }

    /// Scalar e^x through the same polynomial, so tails of SIMD loops round exactly like the body.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(Float16x(repeating: x))[0] }

    /// Sum of `n` floats.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Float16x(repeating: 0), i = 0
        while i + 16 <= n { acc += load(x + i); i += 16 }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Dot product of two length-`n` vectors.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Float16x(repeating: 0), i = 0
        while i + 16 <= n { acc += load(a + i) * load(b + i); i += 16 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Maximum of `n ≥ 1` floats.
    @inlinable
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity, i = 0
        if n >= 16 {
            var acc = Float16x(repeating: -.infinity)
            // A compare and a blend per vector: the standard library's `pointwiseMax` keeps IEEE
            // maximum's NaN rules lane by lane, which compiles to a scalar loop through the stack
            // (store-forwarding stalls) that took a fifth of 5-shot MMLU's scoring time.
            while i + 16 <= n {
                let v = load(x + i)
                acc.replace(with: v, where: v .> acc)
                i += 16
            }
            m = acc.max()
        }
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// x[i] = e^(x[i] − shift) in place; returns the sum of the results (softmax's denominator).
    @inlinable
    public static func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        let s = Float16x(repeating: shift)
        var acc = Float16x(repeating: 0), i = 0
        while i + 16 <= n {
            let e = exp(load(x + i) - s)
            store(e, x + i)
            acc += e
            i += 16
        }
        var total = acc.sum()
        while i < n { let e = exp(x[i] - shift); x[i] = e; total += e; i += 1 }
        return total
    }

    /// log Σ e^x[i], computed stably without modifying x.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = max(x, n)
        let s = Float16x(repeating: m)
        var acc = Float16x(repeating: 0), i = 0
        while i + 16 <= n { acc += exp(load(x + i) - s); i += 16 }
        var total = acc.sum()
        while i < n { total += exp(x[i] - m); i += 1 }
        return m + Foundation.log(total)
    }

    /// Index of the largest of `n ≥ 1` floats (first one on ties).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        let m = max(x, n)
        var i = 0
        while i < n - 1 && x[i] != m { i += 1 }
        return i
    }

    /// x[i] *= a in place.
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, _ n: Int, by a: Float) {
        let va = Float16x(repeating: a)
        var i = 0
        while i + 16 <= n { store(load(x + i) * va, x + i); i += 16 }
        while i < n { x[i] *= a; i += 1 }
    }

    /// y[i] += x[i].
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n { store(load(y + i) + load(x + i), y + i); i += 16 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// y[i] += a · x[i].
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, scaledBy a: Float, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        let va = Float16x(repeating: a)
        var i = 0
        while i + 16 <= n { store(load(y + i).addingProduct(load(x + i), va), y + i); i += 16 }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// Each lane of `v` clamped to [lo, hi] (lo ≤ hi), as compares and blends: the standard
    /// library's `clamped(lowerBound:upperBound:)` keeps IEEE minimum/maximum's NaN rules lane by
    /// lane and compiles to a scalar loop through the stack, which made LSQ's fake quantization
    /// (a clamp per weight, every step) several times slower. Equal to it for every non-NaN lane.
    @inlinable @inline(__always)
    public static func clamp(_ v: Float16x, _ lo: Float16x, _ hi: Float16x) -> Float16x {
        var r = v
        r.replace(with: lo, where: v .< lo)
        r.replace(with: hi, where: r .> hi)
        return r
    }

    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> Float16x {
        UnsafeRawPointer(p).loadUnaligned(as: Float16x.self)
    }

    @inlinable @inline(__always)
    public static func load(_ p: UnsafeMutablePointer<Float>) -> Float16x { load(UnsafePointer(p)) }

    @inlinable @inline(__always)
    public static func store(_ v: Float16x, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Float16x.self)
    }
}
