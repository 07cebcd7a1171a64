import Models
import Tensor
import TestSupport
import XCTest

/// Each op's float32 backward against central differences of an independent float64 forward, for
/// the loss L = Σ c ⊙ op(x) with random c (so dL/dy = c).
final class OpGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    func gaussian(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in rng.nextGaussian() * scale } }
    func dot(_ a: [Double], _ c: [Float]) -> Double { zip(a, c).reduce(0) { $0 + $1.0 * Double($1.1) } }
    let tolerance = 1e-3

    func testLinear() {
        let rows = 3, n = 5, m = 4
        let x = gaussian(rows * n), w = gaussian(m * n), c = gaussian(rows * m)
        var dx = [Float](repeating: 0, count: rows * n), dw = [Float](repeating: 0, count: m * n)
        Linear.backwardInput(c, weight: w, rows: rows, in: n, out: m, into: &dx, accumulate: false)
        Linear.backwardWeight(c, input: x, rows: rows, in: n, out: m, into: &dw)
        let fx = FiniteDifference.gradient(x.map(Double.init)) { dot(Ref.linear($0, w.map(Double.init), rows: rows, in: n, out: m), c) }
        let fw = FiniteDifference.gradient(w.map(Double.init)) { dot(Ref.linear(x.map(Double.init), $0, rows: rows, in: n, out: m), c) }
        XCTAssertLessThan(FiniteDifference.relativeError(dx, fx), tolerance)
        XCTAssertLessThan(FiniteDifference.relativeError(dw, fw), tolerance)
    }

    func testRMSNorm() {
        let rows = 3, dim = 37  // not a multiple of 16: covers the SIMD tail
        let x = gaussian(rows * dim), w = gaussian(dim), c = gaussian(rows * dim)
        var y = [Float](repeating: 0, count: rows * dim), rstd = [Float](repeating: 0, count: rows)
        RMSNorm.forward(x, weight: w, eps: 1e-5, rows: rows, dim: dim, into: &y, rstd: &rstd)
        var dx = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: dim)
        RMSNorm.backward(c, x: x, weight: w, rstd: rstd, rows: rows, dim: dim, dx: &dx, dweight: &dw)
        let fx = FiniteDifference.gradient(x.map(Double.init)) { dot(Ref.rmsnorm($0, w.map(Double.init), eps: 1e-5, rows: rows, dim: dim), c) }
        let fw = FiniteDifference.gradient(w.map(Double.init)) { dot(Ref.rmsnorm(x.map(Double.init), $0, eps: 1e-5, rows: rows, dim: dim), c) }
        XCTAssertLessThan(FiniteDifference.relativeError(dx, fx), tolerance)
        XCTAssertLessThan(FiniteDifference.relativeError(dw, fw), tolerance)
    }

    func testRoPEBothStyles() {
        for style in [RoPEStyle.interleaved, .rotateHalf] {
            let rows = 4, heads = 2, hd = 8
            let rope = RoPE(style: style, headDim: hd, theta: 10000, maxPositions: 16)
            let positions: [Int32] = [0, 3, 7, 15]
            let x = gaussian(rows * heads * hd), c = gaussian(rows * heads * hd)
            var y = x
            rope.apply(&y, rows: rows, heads: heads, stride: heads * hd, positions: positions)
            let ry = Ref.rope(x.map(Double.init), rows: rows, heads: heads, headDim: hd, theta: 10000, style: style, positions: positions.map(Int.init))
            XCTAssertLessThan(FiniteDifference.relativeError(y, ry), 1e-6, "\(style) forward")
            var dx = c
            rope.backward(&dx, rows: rows, heads: heads, stride: heads * hd, positions: positions)
            let fx = FiniteDifference.gradient(x.map(Double.init)) {
                dot(Ref.rope($0, rows: rows, heads: heads, headDim: hd, theta: 10000, style: style, positions: positions.map(Int.init)), c)
            }
            XCTAssertLessThan(FiniteDifference.relativeError(dx, fx), tolerance, "\(style)")
        }
    }

    /// A short sequence, and one longer than `CausalAttention.causalRows` (a full and a partial
    /// block of queries, each against the keys it sees).
    func testCausalGQAAttention() {
        for T in [5, CausalAttention.causalRows + 6] { checkCausalGQAAttention(T: T) }
    }

    func checkCausalGQAAttention(T: Int) {
        let heads = 4, kvHeads = 2, hd = 8, D = heads * hd, KV = kvHeads * hd
        let q = gaussian(T * D), k = gaussian(T * KV), v = gaussian(T * KV), c = gaussian(T * D)
        var out = [Float](repeating: 0, count: T * D), scores = [Float](repeating: 0, count: T * T)
        k.withUnsafeBufferPointer { kp in
            v.withUnsafeBufferPointer { vp in
                CausalAttention.forward(q: q, queries: T, qStride: D,
                                        segments: [.init(keys: kp.baseAddress!, values: vp.baseAddress!, count: T, stride: KV)],
                                        past: 0, heads: heads, kvHeads: kvHeads, headDim: hd, out: &out, outStride: D, scores: &scores)
            }
        }
        let dq0 = q.map(Double.init), dk0 = k.map(Double.init), dv0 = v.map(Double.init)
        XCTAssertLessThan(FiniteDifference.relativeError(out, Ref.attention(dq0, dk0, dv0, T: T, heads: heads, kvHeads: kvHeads, headDim: hd)), 1e-5)
        var dq = [Float](repeating: 0, count: T * D), dk = [Float](repeating: 7, count: T * KV), dv = dk
        var p = [Float](repeating: 0, count: T * T), dp = p
        CausalAttention.backward(dOut: c, outStride: D, q: q, qStride: D, keys: k, values: v, kvStride: KV, queries: T,
                                 heads: heads, kvHeads: kvHeads, headDim: hd, dq: &dq, dk: &dk, dv: &dv,
                                 probabilities: &p, dProbabilities: &dp)
        func f(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            dot(Ref.attention(q, k, v, T: T, heads: heads, kvHeads: kvHeads, headDim: hd), c)
        }
        XCTAssertLessThan(FiniteDifference.relativeError(dq, FiniteDifference.gradient(dq0) { f($0, dk0, dv0) }), tolerance)
        XCTAssertLessThan(FiniteDifference.relativeError(dk, FiniteDifference.gradient(dk0) { f(dq0, $0, dv0) }), tolerance)
        XCTAssertLessThan(FiniteDifference.relativeError(dv, FiniteDifference.gradient(dv0) { f(dq0, dk0, $0) }), tolerance)
    }

    func testSwiGLU() {
        let n = 37
        let g = gaussian(n, 3), u = gaussian(n), c = gaussian(n)
        var dg = [Float](repeating: 0, count: n), du = dg
        SwiGLU.backward(c, gate: g, up: u, count: n, dGate: &dg, dUp: &du)
        let fg = FiniteDifference.gradient(g.map(Double.init)) { dot(Ref.swiglu($0, u.map(Double.init)), c) }
        let fu = FiniteDifference.gradient(u.map(Double.init)) { dot(Ref.swiglu(g.map(Double.init), $0), c) }
        XCTAssertLessThan(FiniteDifference.relativeError(dg, fg), tolerance)
        XCTAssertLessThan(FiniteDifference.relativeError(du, fu), tolerance)
    }

    func testCrossEntropyWithMask() {
        let rows = 3, V = 40
        let logits = gaussian(rows * V, 2)
        let targets: [Int32] = [5, -1, 39]
        var losses = [Float](repeating: 0, count: rows)
        CrossEntropy.forward(logits, rows: rows, vocab: V, targets: targets, losses: &losses)
        let ref = Ref.crossEntropy(logits.map(Double.init), rows: rows, vocab: V, targets: targets.map(Int.init))
        XCTAssertEqual(Double(losses.reduce(0, +)), ref, accuracy: 1e-5)
        XCTAssertEqual(losses[1], 0)
        var d = logits
        CrossEntropy.backward(&d, rows: rows, vocab: V, targets: targets, scale: 0.5)
        let fd = FiniteDifference.gradient(logits.map(Double.init)) { 0.5 * Ref.crossEntropy($0, rows: rows, vocab: V, targets: targets.map(Int.init)) }
        XCTAssertLessThan(FiniteDifference.relativeError(d, fd), tolerance)
        XCTAssertTrue(d[V..<(2 * V)].allSatisfy { $0 == 0 }, "masked row gets no gradient")
    }

    func testEmbeddingScatterAddsRepeatedTokens() {
        let dim = 3, tokens = [2, 0, 2]
        let table = gaussian(4 * dim), c = gaussian(tokens.count * dim)
        var x = [Float](repeating: 0, count: tokens.count * dim)
        Embedding.forward(tokens, table: table, dim: dim, into: &x)
        XCTAssertEqual(Array(x[6..<9]), Array(table[6..<9]))
        var dt = [Float](repeating: 0, count: table.count)
        Embedding.backward(c, tokens: tokens, dim: dim, into: &dt)
        let fd = FiniteDifference.gradient(table.map(Double.init)) { t in
            var s = 0.0
            for (r, tok) in tokens.enumerated() { for i in 0..<dim { s += t[tok * dim + i] * Double(c[r * dim + i]) } }
            return s
        }
        XCTAssertLessThan(FiniteDifference.relativeError(dt, fd), 1e-6)
    }
}
