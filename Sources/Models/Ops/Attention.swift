import Tensor

/// Causal grouped-query attention of one sequence's new queries over all its keys.
///
/// Shapes: q (T, heads·hd) row stride `qStride`; keys/values arrive as segments, each (count, kvHeads·hd)
/// with row stride `kvStride`, which together hold positions 0 ..< L, L = past + T; out (T, heads·hd)
/// row stride `outStride`. Query t sits at position past + t and sees keys 0 ... past + t, or with a
/// sliding `window` W only the last W of them, past + t − W + 1 ... past + t (Mistral's band mask).
/// scores (T, L) is scratch. Forward saves for backward: nothing beyond q, k, v themselves; the
/// backward recomputes each head's probabilities P (T, L), which costs one QKᵀ product per head
/// instead of keeping heads·T² floats per layer alive between forward and backward.
///
/// Both directions compute the query heads of the KV heads `groups` (all by default): a batch's
/// attention is independent per (sequence, KV head), so its callers share those items over the
/// cores (`SecondCore.share`), every product of an item on one core, instead of splitting each
/// of a layer's hundreds of small products, and the softmax passes between them, in two.
public enum CausalAttention {
    /// One run of keys and values: `count` rows starting at `keys`/`values`, row stride `stride`.
    public struct KeyValueSegment {
        public var keys: UnsafePointer<Float>
        public var values: UnsafePointer<Float>
        public var count: Int
        public var stride: Int

        public init(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, count: Int, stride: Int) {
            self.keys = keys
            self.values = values
            self.count = count
            self.stride = stride
        }
    }

    public static func forward(
        q: UnsafePointer<Float>, queries T: Int, qStride: Int,
        segments: [KeyValueSegment], past: Int,
        heads: Int, kvHeads: Int, headDim hd: Int, window: Int? = nil, groups: Range<Int>? = nil,
        out: UnsafeMutablePointer<Float>, outStride: Int,
        scores: UnsafeMutablePointer<Float>
    ) {
        let L = past + T
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        if T == 1 {
            // Decode: the `group` query heads sharing a KV head read each key and value row once, in
            // plain SIMD loops. At (group × L × hd) the products are far too small for sgemm, whose
            // packing copies took as long as all the layers' weight products together.
            for kvh in groups ?? 0..<kvHeads {
                let qh = q + kvh * group * hd, o = out + kvh * group * hd
                var col = 0
                for s in segments {
                    for j in 0..<s.count {
                        let key = s.keys + j * s.stride + kvh * hd
                        for g in 0..<group { scores[g * L + col + j] = scale * SIMDMath.dot(qh + g * hd, key, hd) }
                    }
                    col += s.count
                }
                for g in 0..<group { softmaxRow(scores + g * L, from: firstVisible(L - 1, window), visible: L) }
                o.update(repeating: 0, count: group * hd)
                col = 0
                for s in segments {
                    for j in 0..<s.count {
                        let value = s.values + j * s.stride + kvh * hd
                        for g in 0..<group { SIMDMath.add(value, scaledBy: scores[g * L + col + j], into: o + g * hd, hd) }
                    }
                    col += s.count
                }
            }
            return
        }
        let kv = groups ?? 0..<kvHeads
        for h in kv.lowerBound * group..<kv.upperBound * group {
            let kvOffset = (h / group) * hd
            var col = 0
            for s in segments {
                BLAS.gemm(transB: true, m: T, n: s.count, k: hd, alpha: scale,
                          a: q + h * hd, lda: qStride, b: s.keys + kvOffset, ldb: s.stride, c: scores + col, ldc: L)
                col += s.count
            }
            for t in 0..<T { softmaxRow(scores + t * L, from: firstVisible(past + t, window), visible: past + t + 1, width: L) }
            accumulate(scores, rows: T, L: L, segments: segments, kvOffset: kvOffset, hd: hd,
                       out: out + h * hd, ldOut: outStride)
        }
    }

    /// out (rows, hd) = P (rows, L) · V over the segments.
    @inline(__always)
    private static func accumulate(
        _ p: UnsafePointer<Float>, rows: Int, L: Int, segments: [KeyValueSegment], kvOffset: Int, hd: Int,
        out: UnsafeMutablePointer<Float>, ldOut: Int
    ) {
        var col = 0
        for (i, s) in segments.enumerated() {
            BLAS.gemm(m: rows, n: hd, k: s.count, a: p + col, lda: L, b: s.values + kvOffset, ldb: s.stride,
                      beta: i == 0 ? 0 : 1, c: out, ldc: ldOut)
            col += s.count
        }
    }

    /// The first key position a query at `position` sees: 0, or position − W + 1 inside a window W.
    @inline(__always)
    static func firstVisible(_ position: Int, _ window: Int?) -> Int {
        guard let window else { return 0 }
        return Swift.max(0, position - window + 1)
    }

    /// Softmax over entries `start ..< visible` of a row; the hidden rest of the row (before `start`,
    /// and after `visible` up to `width`) is set to 0 so the P·V product ignores it.
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, from start: Int = 0, visible: Int, width: Int? = nil) {
        let seen = row + start, n = visible - start
        let m = SIMDMath.max(seen, n)
        let total = SIMDMath.expShiftedInPlace(seen, n, shift: m)
        SIMDMath.scale(seen, n, by: 1 / total)
        if start > 0 { row.update(repeating: 0, count: start) }
        if let w = width, w > visible { (row + visible).update(repeating: 0, count: w - visible) }
    }

    /// Backward of `forward` for a training sequence (no cache: past = 0, L = T, one key/value run),
    /// with the same optional sliding `window`.
    ///
    /// Shapes: q, dq (T, heads·hd) row stride `qStride`; k, v, dk, dv (T, kvHeads·hd) row stride
    /// `kvStride`; dOut (T, heads·hd) row stride `outStride`; probabilities, dProbabilities (T, T) scratch.
    /// Per head, with S = scale·QKᵀ, P = softmax(S), O = PV:
    ///   dP = dO Vᵀ, dV += Pᵀ dO, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS K, dK += scale·dSᵀ Q.
    /// dq, dk and dv are overwritten (query heads sharing a KV head sum into it), for the heads of `groups`.
    public static func backward(
        dOut: UnsafePointer<Float>, outStride: Int,
        q: UnsafePointer<Float>, qStride: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, kvStride: Int,
        queries T: Int, heads: Int, kvHeads: Int, headDim hd: Int, window: Int? = nil, groups: Range<Int>? = nil,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        probabilities p: UnsafeMutablePointer<Float>, dProbabilities dp: UnsafeMutablePointer<Float>
    ) {
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot(), kv = groups ?? 0..<kvHeads
        for h in kv.lowerBound * group..<kv.upperBound * group {
            let kvOffset = (h / group) * hd
            let first: Float = h % group == 0 ? 0 : 1
            BLAS.gemm(transB: true, m: T, n: T, k: hd, alpha: scale,
                      a: q + h * hd, lda: qStride, b: keys + kvOffset, ldb: kvStride, c: p, ldc: T)
            for t in 0..<T { softmaxRow(p + t * T, from: firstVisible(t, window), visible: t + 1, width: T) }
            BLAS.gemm(transB: true, m: T, n: T, k: hd, a: dOut + h * hd, lda: outStride,
                      b: values + kvOffset, ldb: kvStride, c: dp, ldc: T)
            BLAS.gemm(transA: true, m: T, n: hd, k: T, a: p, lda: T, b: dOut + h * hd, ldb: outStride,
                      beta: first, c: dv + kvOffset, ldc: kvStride)
            for t in 0..<T {
                // Columns past t (and before the window) hold P = 0, so dS is 0 there without a mask.
                let pr = p + t * T, dr = dp + t * T, n = t + 1
                let shift = Float16x(repeating: SIMDMath.dot(pr, dr, n))
                var i = 0
                while i + 16 <= n {
                    SIMDMath.store(SIMDMath.load(pr + i) * (SIMDMath.load(dr + i) - shift), dr + i)
                    i += 16
                }
                while i < n { dr[i] = pr[i] * (dr[i] - shift[0]); i += 1 }
                if n < T { (dr + n).update(repeating: 0, count: T - n) }
            }
            BLAS.gemm(m: T, n: hd, k: T, alpha: scale, a: dp, lda: T, b: keys + kvOffset, ldb: kvStride,
                      c: dq + h * hd, ldc: qStride)
            BLAS.gemm(transA: true, m: T, n: hd, k: T, alpha: scale, a: dp, lda: T, b: q + h * hd, ldb: qStride,
                      beta: first, c: dk + kvOffset, ldc: kvStride)
        }
    }
}
