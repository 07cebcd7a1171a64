/// Lane-wise helpers that the optimizer reliably turns into single vector instructions. The
/// generic stdlib versions (`rounded`, `init(truncatingIfNeeded:)`, integer↔float
/// conversion) are emitted as out-of-line calls on SIMD16, which made the kernels 5× slower.
enum VectorOps {
    typealias V = SIMD16<Float>
    typealias U = SIMD16<UInt32>

    /// Round half to even for |v| < 2²²: adding 1.5·2²³ pushes the fraction out of the mantissa.
    @inline(__always)
    static func roundEven(_ v: V) -> V {
        let magic = V(repeating: 12_582_912)
        return (v + magic) - magic
    }

    /// Exact for integers below 2²³: place them in the mantissa of 2²³ and subtract it.
    @inline(__always)
    static func toFloat(_ u: U) -> V {
        unsafeBitCast(u | 0x4B00_0000, to: V.self) - V(repeating: 8_388_608)
    }

    /// UInt32 lanes below 2³¹ to float (vcvtdq2ps, on AVX2 as on AVX-512: the scalar loop over
    /// signed lanes is what LLVM vectorises into it).
    @inline(__always)
    static func convert(_ u: U) -> V {
        let s = unsafeBitCast(u, to: SIMD16<Int32>.self)
        var r = V()
        for i in 0..<16 { r[i] = Float(s[i]) }
        return r
    }
}
