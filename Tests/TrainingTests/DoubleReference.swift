import Foundation
import Models
import Training

/// Naive float64 implementations of the LLaMA ops and a whole-model loss, written from the
/// equations independently of the float32 kernels: the reference the gradient checks
/// differentiate numerically.
enum Ref {
    static func linear(_ x: [Double], _ w: [Double], rows: Int, in n: Int, out m: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * m)
        for r in 0..<rows { for o in 0..<m { var s = 0.0; for i in 0..<n { s += x[r * n + i] * w[o * n + i] }; y[r * m + o] = s } }
        return y
    }

    static func rmsnorm(_ x: [Double], _ w: [Double], eps: Double, rows: Int, dim: Int) -> [Double] {
        var y = x
        for r in 0..<rows {
            var ss = 0.0
            for i in 0..<dim { ss += x[r * dim + i] * x[r * dim + i] }
            let inv = 1 / (ss / Double(dim) + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = x[r * dim + i] * inv * w[i] }
        }
        return y
    }

    static func rope(_ x: [Double], rows: Int, heads: Int, headDim hd: Int, theta: Double, style: RoPEStyle, positions: [Int],
                     divisors: [Double]? = nil) -> [Double] {
        var y = x
        let stride = heads * hd
        for r in 0..<rows {
            for h in 0..<heads {
                for i in 0..<(hd / 2) {
                    let angle = Double(positions[r]) * pow(theta, -Double(2 * i) / Double(hd)) / (divisors?[i] ?? 1)
                    let (a, b) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + hd / 2)
                    let base = r * stride + h * hd
                    y[base + a] = x[base + a] * cos(angle) - x[base + b] * sin(angle)
                    y[base + b] = x[base + a] * sin(angle) + x[base + b] * cos(angle)
                }
            }
        }
        return y
    }

    /// Causal GQA attention of one sequence; q, out (T, heads·hd), k, v (T, kvHeads·hd). With a
    /// `window` W, query t sees only keys t − W + 1 ... t.
    static func attention(_ q: [Double], _ k: [Double], _ v: [Double], T: Int, heads: Int, kvHeads: Int, headDim hd: Int,
                          window: Int? = nil) -> [Double] {
        var out = [Double](repeating: 0, count: T * heads * hd)
        let D = heads * hd, KV = kvHeads * hd, group = heads / kvHeads
        for h in 0..<heads {
            let kh = (h / group) * hd
            for t in 0..<T {
                var s = [Double](repeating: 0, count: t + 1)
                for j in 0...t {
                    var d = 0.0
                    for i in 0..<hd { d += q[t * D + h * hd + i] * k[j * KV + kh + i] }
                    s[j] = d / Double(hd).squareRoot()
                }
                if let w = window { for j in 0...t where j <= t - w { s[j] = -.infinity } }
                let m = s.max()!
                let e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                for j in 0...t { for i in 0..<hd { out[t * D + h * hd + i] += e[j] / z * v[j * KV + kh + i] } }
            }
        }
        return out
    }

    static func swiglu(_ g: [Double], _ u: [Double]) -> [Double] { zip(g, u).map { $0 / (1 + exp(-$0)) * $1 } }

    /// Σ over rows with target ≥ 0 of −log softmax(logits)[target].
    static func crossEntropy(_ logits: [Double], rows: Int, vocab V: Int, targets: [Int]) -> Double {
        var total = 0.0
        for r in 0..<rows where targets[r] >= 0 {
            let row = logits[(r * V)..<((r + 1) * V)]
            let m = row.max()!
            total += log(row.reduce(0) { $0 + exp($1 - m) }) + m - row[r * V + targets[r]]
        }
        return total
    }

    /// A LLaMA model in float64 with per-projection weight deltas (s·B·A) added to the base weights.
    struct Model {
        var weights: LlamaWeights
        /// Effective weight per (layer, projection), (out, in), base plus adapter.
        var projections: [[Projection: [Double]]]

        /// Mean loss over scored rows of `batch`, with `inputDelta` (N, D) added to the embedded input.
        func meanLoss(_ batch: TrainingBatch, inputDelta: [Double]? = nil) -> Double {
            let c = weights.config, D = c.dim, KV = c.kvDim, N = batch.tokens.rowCount
            var x = [Double](repeating: 0, count: N * D)
            for (r, t) in batch.tokens.tokens.enumerated() { for i in 0..<D { x[r * D + i] = Double(weights.tokenEmbedding[t, i]) } }
            if let d = inputDelta { for i in x.indices { x[i] += d[i] } }
            var positions: [Int] = []
            for s in batch.tokens.sequences { positions += Array(0..<s.count) }
            let divisors = c.ropeScaling.divisors(headDim: c.headDim, theta: Double(c.ropeTheta))
            for (l, w) in weights.layers.enumerated() {
                let p = projections[l], Q = c.queryDim
                /// x·Wᵀ + b for projection `site` (out rows of its shape).
                func project(_ x: [Double], _ site: Projection) -> [Double] {
                    let (out, inp) = site.shape(c)
                    var y = linear(x, p[site]!, rows: N, in: inp, out: out)
                    if let b = w.biases[site] { for i in y.indices { y[i] += Double(b[i % out]) } }
                    return y
                }
                let xb = rmsnorm(x, w.attnNorm.map(Double.init), eps: Double(c.normEps), rows: N, dim: D)
                let q = rope(project(xb, .q), rows: N, heads: c.headCount, headDim: c.headDim,
                             theta: Double(c.ropeTheta), style: c.ropeStyle, positions: positions, divisors: divisors)
                let k = rope(project(xb, .k), rows: N, heads: c.kvHeadCount, headDim: c.headDim,
                             theta: Double(c.ropeTheta), style: c.ropeStyle, positions: positions, divisors: divisors)
                let v = project(xb, .v)
                var att: [Double] = []
                for s in batch.tokens.sequences {
                    att += attention(Array(q[(s.offset * Q)..<((s.offset + s.count) * Q)]),
                                     Array(k[(s.offset * KV)..<((s.offset + s.count) * KV)]),
                                     Array(v[(s.offset * KV)..<((s.offset + s.count) * KV)]),
                                     T: s.count, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                                     window: c.window(layer: l))
                }
                let o = project(att, .o)
                for i in x.indices { x[i] += o[i] }
                let xb2 = rmsnorm(x, w.ffnNorm.map(Double.init), eps: Double(c.normEps), rows: N, dim: D)
                let h = swiglu(project(xb2, .gate), project(xb2, .up))
                let dn = project(h, .down)
                for i in x.indices { x[i] += dn[i] }
            }
            let xf = rmsnorm(x, weights.finalNorm.map(Double.init), eps: Double(c.normEps), rows: N, dim: D)
            let logits = linear(xf, weights.head.storage.map(Double.init), rows: N, in: D, out: c.vocabSize)
            return crossEntropy(logits, rows: N, vocab: c.vocabSize, targets: batch.targets.map(Int.init)) / Double(batch.scoredCount)
        }
    }
}

/// Finite-difference helpers in float64.
enum FiniteDifference {
    /// Central-difference gradient of f at x, entry by entry.
    static func gradient(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count), xp = x
        for i in x.indices {
            xp[i] = x[i] + h; let fp = f(xp)
            xp[i] = x[i] - h; let fm = f(xp)
            xp[i] = x[i]
            g[i] = (fp - fm) / (2 * h)
        }
        return g
    }

    /// ‖a − b‖ / ‖b‖.
    static func relativeError(_ a: [Float], _ b: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) { num += (Double(x) - y) * (Double(x) - y); den += y * y }
        return (num / max(den, 1e-300)).squareRoot()
    }
}
