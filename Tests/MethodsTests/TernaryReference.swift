import Methods
import Quantization
import Tensor
import Training

/// An independent, naive Double-precision LoTA-QAF layer (lota-qaf.md §1.3–1.6) on a small random
/// 2-bit base whose codes often sit at the grid ends, so thresholds and boundary masks both fire.
struct TernaryReference {
    let paperOffset: Bool
    let base: QuantizedMatrix
    let omega: Float = 1.5
    let rank = 5

    init(paperOffset: Bool) {
        self.paperOffset = paperOffset
        var q = QuantizedMatrix(rows: 6, cols: 8, bits: 2, groupSize: 4)
        var rng = SeededRandom(seed: 3)
        for i in q.codes.indices { q.codes[i] = UInt8(rng.next() % 4) }
        for i in q.scales.indices {
            q.scales[i] = 0.5 + rng.nextUnitFloat()
            q.zeros[i] = Float(rng.next() % 4)
        }
        base = q
    }

    /// The layer under test with random ternary A and B.
    func layer() -> TernaryAdapter {
        var rng = SeededRandom(seed: 4)
        let t = TernaryAdapter(base: base, rank: rank, omega: omega, paperOffset: paperOffset, name: "ref", random: &rng)
        for p in t.parameters { for i in 0..<p.count { p.value.pointer[i] = Float(Int(rng.next() % 3) - 1) } }
        return t
    }

    /// ΔW = B·A, (out, in).
    func delta(_ a: Matrix, _ b: Matrix) -> [Double] {
        (0..<(base.rows * base.cols)).map { idx in
            let (j, i) = (idx / base.cols, idx % base.cols)
            return (0..<rank).reduce(0.0) { $0 + Double(b[j, $1]) * Double(a[$1, i]) }
        }
    }

    /// Ŵ from the thresholds and the boundary masks of the base codes.
    func steps(_ delta: [Double]) -> [Double] {
        let maxCode = UInt8((1 << base.bits) - 1), w = Double(omega)
        return delta.indices.map { i in
            if delta[i] > w && base.codes[i] < maxCode { return 1 }
            if delta[i] < -w && base.codes[i] > 0 { return -1 }
            return 0
        }
    }

    /// The STE surrogate s·(q − z + Ŵ₀ + (ΔW − ΔW₀) + μ(ΔW)) with Ŵ₀ = steps(ΔW₀) frozen; at ΔW = ΔW₀
    /// it is the layer's effective weight s·(q − z + Ŵ + μ).
    func weight(_ delta: [Double], at delta0: [Double]) -> [Double] {
        let hat = steps(delta0), n = base.cols, gs = base.groupSize, gc = base.groupCount, w = Double(omega)
        var out = [Double](repeating: 0, count: delta.count)
        for j in 0..<base.rows {
            for g in 0..<gc {
                let range = (j * n + g * gs)..<(j * n + (g + 1) * gs)
                var mu = range.reduce(0.0) { $0 + delta[$1] - w * hat[$1] } / Double(gs)
                if !paperOffset { mu /= w }
                let s = Double(base.scales[j * gc + g]), z = Double(base.zeros[j * gc + g])
                for i in range { out[i] = s * (Double(base.codes[i]) - z + hat[i] + (delta[i] - delta0[i]) + mu) }
            }
        }
        return out
    }

    /// Σ dy ⊙ (x·Wᵀ).
    func loss(_ w: [Double], x: [Float], dy: [Float], rows: Int) -> Double {
        let n = base.cols, m = base.rows
        var total = 0.0
        for r in 0..<rows {
            for j in 0..<m {
                let y = (0..<n).reduce(0.0) { $0 + Double(x[r * n + $1]) * w[j * n + $1] }
                total += Double(dy[r * m + j]) * y
            }
        }
        return total
    }

    /// The official code's backward, written out: S = s ⊙ xᵀdy, ∂ΔW = S + groupsum(S)/(g·ω),
    /// dA = Bᵀ∂ΔW, dB = ∂ΔW·Aᵀ, dx = dy·W.
    func codeBackward(_ t: TernaryAdapter, x: [Float], dy: [Float], rows: Int) -> (dA: [Double], dB: [Double], dx: [Double]) {
        let a = t.a.matrix, b = t.b.matrix, n = base.cols, m = base.rows, gs = base.groupSize, gc = base.groupCount
        let d0 = delta(a, b), w = weight(d0, at: d0)
        var dd = [Double](repeating: 0, count: m * n)
        for j in 0..<m {
            for g in 0..<gc {
                let s = Double(base.scales[j * gc + g]), range = (j * n + g * gs)..<(j * n + (g + 1) * gs)
                for idx in range {
                    let i = idx - j * n
                    dd[idx] = s * (0..<rows).reduce(0.0) { $0 + Double(dy[$1 * m + j]) * Double(x[$1 * n + i]) }
                }
                let shared = range.reduce(0.0) { $0 + dd[$1] } / (Double(gs) * (paperOffset ? 1 : Double(omega)))
                for idx in range { dd[idx] += shared }
            }
        }
        let dA = (0..<(rank * n)).map { k in (0..<m).reduce(0.0) { $0 + Double(b[$1, k / n]) * dd[$1 * n + k % n] } }
        let dB = (0..<(m * rank)).map { k in (0..<n).reduce(0.0) { $0 + dd[(k / rank) * n + $1] * Double(a[k % rank, $1]) } }
        let dx = (0..<(rows * n)).map { k in (0..<m).reduce(0.0) { $0 + Double(dy[(k / n) * m + $1]) * w[$1 * n + k % n] } }
        return (dA, dB, dx)
    }

    /// Central differences of the surrogate loss in every entry of A and B (exact up to rounding:
    /// the surrogate is quadratic in each single entry).
    func surrogateGradient(_ t: TernaryAdapter, x: [Float], dy: [Float], rows: Int) -> (dA: [Double], dB: [Double]) {
        let a = t.a.matrix, b = t.b.matrix, d0 = delta(a, b), h = 1e-3
        func f(_ a: [Double], _ b: [Double]) -> Double {
            let d = (0..<(base.rows * base.cols)).map { idx in
                (0..<rank).reduce(0.0) { $0 + b[(idx / base.cols) * rank + $1] * a[$1 * base.cols + idx % base.cols] }
            }
            return loss(weight(d, at: d0), x: x, dy: dy, rows: rows)
        }
        let av = a.storage.map(Double.init), bv = b.storage.map(Double.init)
        func partial(_ v: [Double], _ i: Int, _ eval: ([Double]) -> Double) -> Double {
            var p = v, m = v
            p[i] += h
            m[i] -= h
            return (eval(p) - eval(m)) / (2 * h)
        }
        return (av.indices.map { partial(av, $0) { f($0, bv) } }, bv.indices.map { partial(bv, $0) { f(av, $0) } })
    }
}
