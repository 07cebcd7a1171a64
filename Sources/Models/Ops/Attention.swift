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
/// cores (`share`), every product of an item on one core, instead of splitting each
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

    /// Runs `body(item, kvHead, scratchOffset)` for every KV head of every item of a batch with a
    /// nonzero `cost` (queries × keys): the (item, KV head) pairs shared over the two cores
    /// (`SecondCore.share`), costliest items first so the last pairs to start are short ones, and
    /// `scratchOffset` (core × `scratchPerCore`) placing the pair's scratch in the core's part.
    public static func share<Item>(_ items: [Item], kvHeads: Int, scratchPerCore: Int, cost: (Item) -> Int,
                                   _ body: (Item, Int, Int) -> Void) {
        let ordered = items.filter { cost($0) > 0 }.sorted { cost($0) > cost($1) }
        SecondCore.shared.share(ordered.count * kvHeads) { i, core in
            body(ordered[i / kvHeads], i % kvHeads, core * scratchPerCore)
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
        // In bf16 each operand is rounded once for every product that reads it (K and V once for
        // the group's query heads, P as its softmax writes it) instead of once per product.
        let copies = BF16.applies(m: T, n: L, k: hd)
            ? ThreadScratch.current.operands.reserve(T * L + T * hd + 2 * L * hd) : nil
        let p16 = copies, q16 = copies.map { $0 + T * L }, k16 = q16.map { $0 + T * hd }, v16 = k16.map { $0 + L * hd }
        for kvh in groups ?? 0..<kvHeads {
            var col = 0
            let runs = segments.map { s in
                defer { col += s.count }
                func operand(_ rows: UnsafePointer<Float>, _ copies: UnsafeMutablePointer<UInt16>?) -> Operand {
                    Operand(rows + kvh * hd, ld: s.stride, rows: s.count, cols: hd, roundingInto: copies.map { $0 + col * hd })
                }
                return (keys: operand(s.keys, k16), values: operand(s.values, v16), start: col, count: s.count)
            }
            for h in kvh * group..<(kvh + 1) * group {
                let qh = Operand(q + h * hd, ld: qStride, rows: T, cols: hd, roundingInto: q16)
                for r in runs {
                    causalScores(T, keys: r.count, start: r.start, past: past, hd: hd, alpha: scale, qh, r.keys,
                                 into: scores + r.start, ldc: L)
                }
                for t in 0..<T {
                    softmaxRow(scores + t * L, from: firstVisible(past + t, window), visible: past + t + 1, width: L)
                    if let p16 { BF16.round(scores + t * L, ld: L, rows: 1, cols: L, into: p16 + t * L, ldOut: L) }
                }
                let probabilities = Operand(scores, ld: L, rounded: p16, roundedLD: L)
                for (i, r) in runs.enumerated() {
                    product(m: T, n: hd, k: r.count, probabilities.columns(from: r.start), r.values,
                            beta: i == 0 ? 0 : 1, c: out + h * hd, ldc: outStride)
                }
            }
        }
    }

    /// A matrix operand of attention's products: its fp32 values (row stride `ld`) and, when the
    /// products run in bf16, the same values rounded once into a dense copy (row stride
    /// `roundedLD`) that every product reading them shares.
    private struct Operand {
        let values: UnsafePointer<Float>, ld: Int
        let rounded: UnsafePointer<UInt16>?, roundedLD: Int

        /// An operand whose copy, when there is one, its producer fills (P and dS, row by row as their
        /// passes write them).
        init(_ values: UnsafePointer<Float>, ld: Int, rounded: UnsafePointer<UInt16>?, roundedLD: Int) {
            self.values = values
            self.ld = ld
            self.rounded = rounded
            self.roundedLD = roundedLD
        }

        /// `rows` × `cols` values, rounded into `copy` when given.
        init(_ values: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, roundingInto copy: UnsafeMutablePointer<UInt16>?) {
            if let copy { BF16.round(values, ld: ld, rows: rows, cols: cols, into: copy, ldOut: cols) }
            self.init(values, ld: ld, rounded: copy, roundedLD: cols)
        }

        /// The columns from `col` on.
        func columns(from col: Int) -> Operand {
            Operand(values + col, ld: ld, rounded: rounded.map { $0 + col }, roundedLD: roundedLD)
        }

        /// The rows from `row` on.
        func rows(from row: Int) -> Operand {
            Operand(values + row * ld, ld: ld, rounded: rounded.map { $0 + row * roundedLD }, roundedLD: roundedLD)
        }
    }

    /// c (T × keys) = alpha·A·Bᵀ, A's T rows the queries at positions past + t, B's rows the keys at
    /// positions start ..< start + keys (K = hd): S = QKᵀ, or dP = dO·Vᵀ. Causal: run by blocks of
    /// `causalRows` queries, each against the keys up to its last query only, so most entries
    /// above the diagonal, which the softmax (or the dS pass) overwrites, are never computed. Every
    /// computed entry is the same K = hd sum as in the whole product, and each block runs in bf16
    /// exactly when the whole product would.
    private static func causalScores(
        _ T: Int, keys n: Int, start: Int, past: Int, hd: Int, alpha: Float, _ a: Operand, _ b: Operand,
        into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let bf16 = BF16.applies(m: T, n: n, k: hd)
        for r0 in stride(from: 0, to: T, by: causalRows) {
            let r1 = Swift.min(T, r0 + causalRows), seen = Swift.min(n, past + r1 - start)
            guard seen > 0 else { continue }
            product(transB: true, m: r1 - r0, n: seen, k: hd, alpha: alpha, a.rows(from: r0), b,
                    c: c + r0 * ldc, ldc: ldc, bf16: bf16)
        }
    }

    /// Queries per block of `causalScores`: blocks of 64 skip 3/8 of a 256-token product and stay
    /// large enough for oneDNN's kernels.
    public static let causalRows = 64

    /// C = alpha·op(A)·op(B) + beta·C: oneDNN's bf16 product on the operands' copies when both have
    /// one and it is large enough (`BF16.applies`, or `bf16` when given: a part of a product that
    /// is), else `BLAS.sgemm` on their fp32 values.
    private static func product(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: Operand, _ b: Operand, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, bf16: Bool? = nil
    ) {
        if let ra = a.rounded, let rb = b.rounded, bf16 ?? BF16.applies(m: m, n: n, k: k) {
            BF16.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: .bf16(ra, ld: a.roundedLD),
                      b: .bf16(rb, ld: b.roundedLD), beta: beta, c: c, ldc: ldc)
        } else {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.values, lda: a.ld,
                       b: b.values, ldb: b.ld, beta: beta, c: c, ldc: ldc)
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
        let group = heads / kvHeads, scale = 1 / Float(hd).squareRoot()
        // In bf16 each operand is rounded once for the products that read it (as in `forward`).
        let copies = BF16.applies(m: T, n: T, k: hd)
            ? ThreadScratch.current.operands.reserve(2 * T * T + 4 * T * hd) : nil
        let p16 = copies, ds16 = copies.map { $0 + T * T }, q16 = ds16.map { $0 + T * T }
        let do16 = q16.map { $0 + T * hd }, k16 = do16.map { $0 + T * hd }, v16 = k16.map { $0 + T * hd }
        for kvh in groups ?? 0..<kvHeads {
            let kvOffset = kvh * hd
            let k = Operand(keys + kvOffset, ld: kvStride, rows: T, cols: hd, roundingInto: k16)
            let v = Operand(values + kvOffset, ld: kvStride, rows: T, cols: hd, roundingInto: v16)
            for h in kvh * group..<(kvh + 1) * group {
                let first: Float = h % group == 0 ? 0 : 1
                let qh = Operand(q + h * hd, ld: qStride, rows: T, cols: hd, roundingInto: q16)
                let dOh = Operand(dOut + h * hd, ld: outStride, rows: T, cols: hd, roundingInto: do16)
                causalScores(T, keys: T, start: 0, past: 0, hd: hd, alpha: scale, qh, k, into: p, ldc: T)
                for t in 0..<T {
                    softmaxRow(p + t * T, from: firstVisible(t, window), visible: t + 1, width: T)
                    if let p16 { BF16.round(p + t * T, ld: T, rows: 1, cols: T, into: p16 + t * T, ldOut: T) }
                }
                causalScores(T, keys: T, start: 0, past: 0, hd: hd, alpha: 1, dOh, v, into: dp, ldc: T)
                product(transA: true, m: T, n: hd, k: T, Operand(p, ld: T, rounded: p16, roundedLD: T), dOh,
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
                    if let ds16 { BF16.round(dr, ld: T, rows: 1, cols: T, into: ds16 + t * T, ldOut: T) }
                }
                let ds = Operand(dp, ld: T, rounded: ds16, roundedLD: T)
                product(m: T, n: hd, k: T, alpha: scale, ds, k, c: dq + h * hd, ldc: qStride)
                product(transA: true, m: T, n: hd, k: T, alpha: scale, ds, qh, beta: first, c: dk + kvOffset, ldc: kvStride)
            }
        }
    }
}
