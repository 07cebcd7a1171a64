import Tensor

/// Choosing the k input columns kept in float (OWQ's "weak columns", QEFT's tuned columns).
///
/// * Layers whose input is private (o_proj, down_proj): each picks its own top-k by the OWQ score
///   s_j = H_jj · Σ_i (W_ij − Q(W)_ij)², Q a trial per-row quantization (qeft.md §1.3).
/// * Layers that read the residual stream (q/k/v, gate/up): one global set for the whole network,
///   the top-k of S = Σ_layers diag(H)/mean(diag(H)) (qeft.md §1.4, the released code's version).
public enum WeakColumns {
    /// The trial quantizer of `main.py`: 4-bit asymmetric, one range per whole row, 40-candidate
    /// L2.4 search.
    public static func owqTrialQuantizer(bits: Int = 4) throws -> UniformQuantizer {
        try UniformQuantizer(bits: bits, grid: .asymmetric, search: .owq)
    }

    /// OWQ sensitivity of every input column of `weight` (out × in).
    public static func owqScores(weight: Matrix, hessianDiagonal: [Double], trial: UniformQuantizer) throws -> [Double] {
        guard hessianDiagonal.count == weight.cols else {
            throw QuantizationError.shapeMismatch(what: "Hessian diagonal", expected: [weight.cols], found: [hessianDiagonal.count])
        }
        let q = try trial.fakeQuantize(weight, groupSize: weight.cols)
        var err = [Double](repeating: 0, count: weight.cols)
        weight.storage.withUnsafeBufferPointer { w in
            q.storage.withUnsafeBufferPointer { qw in
                for r in 0..<weight.rows {
                    for c in 0..<weight.cols {
                        let d = Double(w[r * weight.cols + c] - qw[r * weight.cols + c])
                        err[c] += d * d
                    }
                }
            }
        }
        return zip(hessianDiagonal, err).map { $0 * $1 }
    }

    /// QEFT's global score: the per-layer mean-normalised Hessian diagonals, summed. Pass one
    /// diagonal per layer reading the shared input (q, k, v, gate, up of every block: q/k/v share a
    /// statistic and so count it three times, as upstream).
    public static func globalScores(hessianDiagonals: [[Double]]) throws -> [Double] {
        guard let n = hessianDiagonals.first?.count, n > 0 else {
            throw QuantizationError.invalidOption(option: "hessianDiagonals", value: "[]", reason: "need at least one layer")
        }
        var s = [Double](repeating: 0, count: n)
        for (l, h) in hessianDiagonals.enumerated() {
            guard h.count == n else {
                throw QuantizationError.shapeMismatch(what: "Hessian diagonal of layer \(l)", expected: [n], found: [h.count])
            }
            let mean = h.reduce(0, +) / Double(n)
            guard mean > 0 else {
                throw QuantizationError.invalidOption(option: "hessianDiagonals[\(l)]", value: "mean \(mean)",
                                                      reason: "must have a positive mean (was the layer fed any input?)")
            }
            for j in 0..<n { s[j] += h[j] / mean }
        }
        return s
    }

    /// The global weak index: top-k of `globalScores`, ascending.
    public static func globalIndex(hessianDiagonals: [[Double]], k: Int) throws -> [Int] {
        try top(k, of: globalScores(hessianDiagonals: hessianDiagonals))
    }

    /// Indices of the k largest scores (ties go to the lower index), returned ascending.
    /// Keeps a sorted list of the best k while scanning once: O(n·k) with k ≪ n.
    public static func top(_ k: Int, of scores: [Double]) throws -> [Int] {
        guard k >= 0, k <= scores.count else {
            throw QuantizationError.invalidOption(option: "k", value: "\(k)", reason: "must be in 0…\(scores.count)")
        }
        guard k > 0 else { return [] }
        var best: [Int] = []  // by decreasing score
        best.reserveCapacity(k + 1)
        for (j, s) in scores.enumerated() where best.count < k || s > scores[best[best.count - 1]] {
            var pos = best.count
            while pos > 0 && scores[best[pos - 1]] < s { pos -= 1 }
            best.insert(j, at: pos)
            if best.count > k { best.removeLast() }
        }
        return best.sorted()
    }
}
