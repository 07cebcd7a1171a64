/// Scale and zero point of one quantization group: `w ≈ scale · (code − zero)`.
public struct GridParameters: Equatable, Sendable {
    public var scale: Float
    public var zero: Float
    public init(scale: Float, zero: Float) {
        self.scale = scale
        self.zero = zero
    }

    /// The scale moved up by the least that makes the grid's deployed forms exact, for the grids
    /// qaft's quantizers choose (`UniformQuantizer.parameters`): with an integer zero and ≤ 4 bits,
    /// to 11 − bits significant bits, so every scale · (code − zero) (|code − zero| < 2^bits) is an
    /// fp16 number — GPTQ's fp16 product and llama.cpp's Q4_0 d·(q − 8) and Q4_1 d·q + m with
    /// m = −scale·zero all give the float32 weight exactly (relative change < 2^(bits − 10),
    /// 0.8 % at 4 bits); otherwise to fp16 (Q8_0's d; a fractional zero's m = −fp16(scale·zero) stays
    /// inexact). Up in magnitude, so the grid never shrinks: a range chosen to span a group still
    /// spans it. The zero is kept. Idempotent; non-finite or zero scales are left alone (export
    /// refuses them by name).
    public func deployable(bits: Int) -> GridParameters {
        guard scale.isFinite, scale != 0 else { return self }
        let integerZero = zero == zero.rounded()
        return GridParameters(scale: Self.rounded(scale, significantBits: integerZero && bits <= 4 ? 11 - bits : 11), zero: zero)
    }

    /// `x` rounded up in magnitude to `significantBits` bits on fp16's grid: below fp16's normal
    /// range the quantum stays 2^(−24 + 11 − significantBits), so a product with a code difference
    /// of 11 − significantBits bits is still a multiple of fp16's smallest subnormal.
    static func rounded(_ x: Float, significantBits p: Int) -> Float {
        let quantum = Float(sign: .plus, exponent: max(Int(x.exponent), -14) - (p - 1), significand: 1)
        let r = (x / quantum).rounded(.awayFromZero) * quantum
        return r != 0 ? r : (x < 0 ? -quantum : quantum)
    }
}
