import Foundation
import Models
import Tensor
import XCTest

/// Attention (the BLAS prefill path, the grouped decode loops, split key segments) against a
/// direct transcription of softmax(QKᵀ/√d + causal mask)·V.
final class AttentionTests: XCTestCase {
    func naive(q: [Float], k: [Float], v: [Float], T: Int, past: Int, heads: Int, kvHeads: Int, hd: Int) -> [Float] {
        let L = past + T, D = heads * hd, KV = kvHeads * hd
        var out = [Float](repeating: 0, count: T * D)
        for h in 0..<heads {
            let kh = h / (heads / kvHeads)
            for t in 0..<T {
                var s = (0...(past + t)).map { j -> Double in
                    (0..<hd).reduce(0.0) { $0 + Double(q[t * D + h * hd + $1]) * Double(k[j * KV + kh * hd + $1]) } / Double(hd).squareRoot()
                }
                let m = s.max()!
                s = s.map { Foundation.exp($0 - m) }
                let z = s.reduce(0, +)
                for d in 0..<hd {
                    out[t * D + h * hd + d] = Float((0..<s.count).reduce(0.0) { $0 + s[$1] / z * Double(v[$1 * KV + kh * hd + d]) })
                }
            }
            _ = L
        }
        return out
    }

    func run(T: Int, past: Int, split: Int) {
        let heads = 6, kvHeads = 2, hd = 8, D = heads * hd, KV = kvHeads * hd, L = past + T
        var rng = SeededRandom(seed: UInt64(T * 100 + past))
        let q = (0..<(T * D)).map { _ in rng.nextGaussian() }
        let k = (0..<(L * KV)).map { _ in rng.nextGaussian() }, v = (0..<(L * KV)).map { _ in rng.nextGaussian() }
        var out = [Float](repeating: 0, count: T * D), scores = [Float](repeating: 0, count: max(T, heads) * L)
        k.withUnsafeBufferPointer { kp in
            v.withUnsafeBufferPointer { vp in
                let segs = [(0, split), (split, L - split)].filter { $0.1 > 0 }.map { s in
                    CausalAttention.KeyValueSegment(keys: kp.baseAddress! + s.0 * KV, values: vp.baseAddress! + s.0 * KV, count: s.1, stride: KV)
                }
                CausalAttention.forward(q: q, queries: T, qStride: D, segments: segs, past: past, heads: heads,
                                        kvHeads: kvHeads, headDim: hd, out: &out, outStride: D, scores: &scores)
            }
        }
        let ref = naive(q: q, k: k, v: v, T: T, past: past, heads: heads, kvHeads: kvHeads, hd: hd)
        for i in 0..<ref.count { XCTAssertEqual(out[i], ref[i], accuracy: 1e-5, "T \(T) past \(past) split \(split) at \(i)") }
    }

    func testPrefillDecodeAndSegmentsMatchNaive() {
        run(T: 9, past: 0, split: 9)
        run(T: 9, past: 0, split: 4)
        run(T: 5, past: 7, split: 3)
        run(T: 1, past: 11, split: 6)
        run(T: 1, past: 0, split: 1)
        // Longer than a block of `CausalAttention.causalRows` queries: blocks see only their keys.
        run(T: 150, past: 0, split: 150)
        run(T: 150, past: 0, split: 70)
        run(T: 100, past: 40, split: 90)
    }

    /// Interleaved pairs on permuted rows equal rotate-half on the original rows: the identity that
    /// lets GGUF (permuted by llama.cpp) and Hugging Face checkpoints share one model.
    func testRoPEConventionsAgreeUnderThePermutation() {
        let hd = 8, heads = 2, rows = 3
        var rng = SeededRandom(seed: 9)
        let x = (0..<(rows * heads * hd)).map { _ in rng.nextGaussian() }
        // HF → interleaved permutation within a head: interleaved slot 2i ← i, 2i+1 ← i + hd/2.
        func permute(_ v: [Float]) -> [Float] {
            var p = v
            for r in 0..<(rows * heads) { for i in 0..<(hd / 2) {
                p[r * hd + 2 * i] = v[r * hd + i]
                p[r * hd + 2 * i + 1] = v[r * hd + i + hd / 2]
            } }
            return p
        }
        let positions: [Int32] = [0, 5, 17]
        var half = x, inter = permute(x)
        RoPE(style: .rotateHalf, headDim: hd, theta: 10000, maxPositions: 32)
            .apply(&half, rows: rows, heads: heads, stride: heads * hd, positions: positions)
        RoPE(style: .interleaved, headDim: hd, theta: 10000, maxPositions: 32)
            .apply(&inter, rows: rows, heads: heads, stride: heads * hd, positions: positions)
        let expected = permute(half)
        for i in 0..<x.count { XCTAssertEqual(inter[i], expected[i], accuracy: 1e-6) }
        var back = inter
        RoPE(style: .interleaved, headDim: hd, theta: 10000, maxPositions: 32)
            .apply(&back, rows: rows, heads: heads, stride: heads * hd, positions: positions, inverse: true)
        let px = permute(x)
        for i in 0..<x.count { XCTAssertEqual(back[i], px[i], accuracy: 1e-5) }
    }
}
