import Foundation
import Tensor

/// Rotary position embedding: each head's dimensions are rotated in pairs by angle p·θ_i, θ_i =
/// base^(−2i/d) divided by the model's `RoPEScaling` divisor.
///
/// Shapes: x (rows, heads·headDim) with row stride `stride`; positions (rows); table (maxPositions, headDim/2).
/// Pairs are (x[2i], x[2i+1]) for `.interleaved` and (x[i], x[i+d/2]) for `.rotateHalf`.
/// Forward saves nothing: the backward is the same rotation by −angle.
public struct RoPE: Sendable {
    public let style: RoPEStyle
    public let headDim: Int
    public let maxPositions: Int
    private let cos: [Float]
    private let sin: [Float]

    /// Plain frequencies θ_i = theta^(−2i/d).
    public init(style: RoPEStyle, headDim: Int, theta: Float, maxPositions: Int) {
        self.init(style: style, frequencies: RoPEScaling.none.frequencies(headDim: headDim, theta: Double(theta)),
                  maxPositions: maxPositions)
    }

    /// The rotation `config` describes (style, head dimension, base and scaling), for positions
    /// below `maxPositions` (default: the context length).
    public init(_ c: LlamaConfig, maxPositions: Int? = nil) {
        self.init(style: c.ropeStyle, frequencies: c.ropeScaling.frequencies(headDim: c.headDim, theta: Double(c.ropeTheta)),
                  maxPositions: maxPositions ?? c.contextLength)
    }

    /// Rotation by angle p·frequencies[i] of pair i (headDim = 2 · frequencies.count).
    public init(style: RoPEStyle, frequencies: [Double], maxPositions: Int) {
        self.style = style
        self.headDim = 2 * frequencies.count
        self.maxPositions = maxPositions
        let half = frequencies.count
        var c = [Float](repeating: 0, count: maxPositions * half), s = c
        for p in 0..<maxPositions {
            for (i, freq) in frequencies.enumerated() {
                // Double precision angles: at p ≈ 8k, float angles lose ~3 digits.
                let a = Double(p) * freq
                c[p * half + i] = Float(Foundation.cos(a))
                s[p * half + i] = Float(Foundation.sin(a))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates `heads` heads of every row in place; `inverse` rotates by the negative angle (backward).
    public func apply(
        _ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, stride: Int,
        positions: UnsafePointer<Int32>, inverse: Bool = false
    ) {
        let half = headDim / 2
        let sign: Float = inverse ? -1 : 1
        cos.withUnsafeBufferPointer { cb in
            sin.withUnsafeBufferPointer { sb in
                // Rows are independent: a long pass splits them over the two cores.
                SecondCore.shared.halves(rows: rows, width: heads * headDim) { range in
                    for r in range {
                        let p = Int(positions[r])
                        precondition(p >= 0 && p < maxPositions, "RoPE position \(p) outside table of \(maxPositions)")
                        let cr = cb.baseAddress! + p * half, sr = sb.baseAddress! + p * half
                        let (lo, hi, step) = style == .interleaved ? (0, 1, 2) : (0, half, 1)
                        for h in 0..<heads {
                            let v = x + r * stride + h * headDim
                            for i in 0..<half {
                                let a = v[lo + i * step], b = v[hi + i * step]
                                let c = cr[i], s = sign * sr[i]
                                v[lo + i * step] = a * c - b * s
                                v[hi + i * step] = a * s + b * c
                            }
                        }
                    }
                }
            }
        }
    }

    /// The backward of `apply`: a rotation is orthogonal, so ∂L/∂x is ∂L/∂y rotated by −angle (in place).
    public func backward(
        _ dx: UnsafeMutablePointer<Float>, rows: Int, heads: Int, stride: Int, positions: UnsafePointer<Int32>
    ) {
        apply(dx, rows: rows, heads: heads, stride: stride, positions: positions, inverse: true)
    }
}
