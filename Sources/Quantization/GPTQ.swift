import Dispatch
import CBLAS
import Tensor

/// GPTQ/OPTQ (Frantar et al.) with OWQ/QEFT's weak columns, following `GPTQ_OWQ.fasterquant_reorder`
/// in xvyaward/qeft `recon.py` (which reduces to plain GPTQ `fasterquant` when there are no weak
/// columns).
///
/// Columns are processed in the order [non-weak ascending | weak]; only the non-weak ones are
/// quantized. Each quantized column's error, scaled by the upper Cholesky factor of H⁻¹, is pushed
/// into all later columns, the fp weak columns included (they absorb part of the compensation and
/// are returned updated). Updates are lazy in blocks of `blockSize` columns. Group parameters are
/// found at each group start from the weights as the reference holds them then: updated by all
/// earlier blocks but not yet by earlier columns of the current block.
public enum GPTQ {
    public struct Options: Codable, Equatable, Sendable {
        /// Columns per quantization group; nil = one group per row.
        public var groupSize: Int?
        public var blockSize: Int
        /// Damping added to diag(H), as a fraction of its mean.
        public var percentDamp: Double
        /// Process columns by decreasing diag(H), with groups fixed beforehand on the original
        /// column order ("static groups"), so the stored layout stays ordinary.
        public var actOrder: Bool

        public init(groupSize: Int?, blockSize: Int = 128, percentDamp: Double = 0.01, actOrder: Bool = false) {
            self.groupSize = groupSize
            self.blockSize = blockSize
            self.percentDamp = percentDamp
            self.actOrder = actOrder
        }
    }

    public struct Result: Sendable {
        /// (out, in − k): the non-weak columns in ascending input order.
        public var quantized: QuantizedMatrix
        /// (out, k): the weak columns after error compensation.
        public var weak: Matrix
        public var weakIndices: [Int]

        /// The packed layer (the QEFT/OWQ format; a plain GPTQ layer when k = 0).
        public func packed() throws -> MixedPrecisionWeights {
            try MixedPrecisionWeights(lowBit: PackedWeights(quantized), weak: weak, weakIndices: weakIndices)
        }

        /// The effective (out, in) weight in input order.
        public func dequantized() -> Matrix {
            let low = quantized.dequantized()
            var isWeak = [Bool](repeating: false, count: low.cols + weakIndices.count)
            for c in weakIndices { isWeak[c] = true }
            let order = isWeak.indices.filter { !isWeak[$0] } + weakIndices
            var m = Matrix(zeros: low.rows, order.count)
            for (j, c) in order.enumerated() {
                for r in 0..<m.rows { m[r, c] = j < low.cols ? low[r, j] : weak[r, j - low.cols] }
            }
            return m
        }
    }

    /// Quantizes `weight` (out × in) given the layer Hessian (in × in, e.g. from
    /// `HessianAccumulator`), keeping `weakColumns` (strictly ascending input indices) in float.
    public static func quantize(weight: Matrix, hessian: [Double], quantizer: UniformQuantizer,
                                options: Options, weakColumns: [Int] = []) throws -> Result {
        let out = weight.rows, n = weight.cols, k = weakColumns.count, nq = n - k
        try validate(weight, hessian, options, weakColumns)
        let group = options.groupSize ?? nq
        var isWeak = [Bool](repeating: false, count: n)
        for c in weakColumns { isWeak[c] = true }
        let order: [Int] = options.actOrder
            ? (0..<n).sorted { (hessian[$0 * n + $0], $1) > (hessian[$1 * n + $1], $0) }
            : (0..<n).filter { !isWeak[$0] } + weakColumns

        // Working copy, transposed so that a column of W is a contiguous row.
        var wt = [Float](repeating: 0, count: n * out)
        var h = [Double](repeating: 0, count: n * n)
        for (j, c) in order.enumerated() {
            for r in 0..<out { wt[j * out + r] = weight[r, c] }
            for (b, cb) in order.enumerated() { h[j * n + b] = hessian[c * n + cb] }
        }
        // Ungrouped parameters come from the rows before dead columns are zeroed, as upstream.
        let rowParams = options.groupSize == nil ? parameters(wt, 0..<nq, out, quantizer) : []
        for j in 0..<n where h[j * n + j] == 0 {
            h[j * n + j] = 1
            for r in 0..<out { wt[j * out + r] = 0 }
        }
        var staticParams: [[GridParameters]] = []
        if options.actOrder, options.groupSize != nil {
            var inverse = [Int](repeating: 0, count: n)
            for (j, c) in order.enumerated() { inverse[c] = j }
            staticParams = stride(from: 0, to: n, by: group).map { g0 in
                parameters(wt, g0..<min(g0 + group, n), out, quantizer, columnOf: { inverse[$0] })
            }
        }
        let damp = options.percentDamp * (0..<n).reduce(0) { $0 + h[$1 * n + $1] } / Double(n)
        for j in 0..<n { h[j * n + j] += damp }
        let u = try upperCholeskyOfInverse(h, n)

        var codes = [UInt8](repeating: 0, count: nq * out)  // (stored column, row)
        var params = [[GridParameters]](repeating: rowParams, count: (nq + group - 1) / group)
        try wt.withUnsafeMutableBufferPointer { w in
            try u.withUnsafeBufferPointer { u in
                var block = [Float](repeating: 0, count: options.blockSize * out)
                var errors = [Float](repeating: 0, count: options.blockSize * out)
                for i1 in stride(from: 0, to: nq, by: options.blockSize) {
                    let i2 = min(i1 + options.blockSize, nq), count = i2 - i1
                    block.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: w.baseAddress! + i1 * out, count: count * out) }
                    for i in 0..<count {
                        let col = i1 + i
                        if options.groupSize != nil, !options.actOrder, col % group == 0 {
                            params[col / group] = parameters(UnsafePointer(w.baseAddress!), col..<min(col + group, nq), out, quantizer)
                        }
                        let p = options.actOrder && options.groupSize != nil ? staticParams[order[col] / group] : params[col / group]
                        let d = u[col * n + col]
                        guard d > 0, d.isFinite else { throw QuantizationError.choleskyFailed(routine: "dpotrf (inverse)", info: col) }
                        for r in 0..<out {
                            let v = block[i * out + r], c = quantizer.code(v, p[r])
                            codes[col * out + r] = c
                            errors[i * out + r] = (v - p[r].scale * (Float(c) - p[r].zero)) / d
                        }
                        if i + 1 < count {
                            cblas_sger(CblasRowMajor, Int32(count - i - 1), Int32(out), -1, u.baseAddress! + col * n + col + 1, 1,
                                       errors.withUnsafeBufferPointer { $0.baseAddress! + i * out }, 1,
                                       block.withUnsafeMutableBufferPointer { $0.baseAddress! + (i + 1) * out }, Int32(out))
                        }
                    }
                    if i2 < n {
                        errors.withUnsafeBufferPointer { e in
                            BLAS.gemm(transA: true, m: n - i2, n: out, k: count, alpha: -1, a: u.baseAddress! + i1 * n + i2, lda: n,
                                      b: e.baseAddress!, ldb: out, beta: 1, c: w.baseAddress! + i2 * out, ldc: out)
                        }
                    }
                }
            }
        }
        return assemble(codes, params, staticParams, order, wt, weakColumns, out, n, group, quantizer.bits, options)
    }

    private static func validate(_ weight: Matrix, _ hessian: [Double], _ options: Options, _ weak: [Int]) throws {
        let n = weight.cols
        guard hessian.count == n * n else {
            throw QuantizationError.shapeMismatch(what: "Hessian", expected: [n, n], found: [hessian.count])
        }
        if let g = options.groupSize, g <= 0 {
            throw QuantizationError.invalidOption(option: "groupSize", value: "\(g)", reason: "must be positive")
        }
        guard options.blockSize > 0 else {
            throw QuantizationError.invalidOption(option: "blockSize", value: "\(options.blockSize)", reason: "must be positive")
        }
        guard options.percentDamp >= 0 else {
            throw QuantizationError.invalidOption(option: "percentDamp", value: "\(options.percentDamp)", reason: "must be ≥ 0")
        }
        guard !(options.actOrder && !weak.isEmpty) else {
            throw QuantizationError.invalidOption(option: "actOrder", value: "true",
                                                  reason: "not supported together with weak columns (QEFT never uses it)")
        }
        guard weak.count < n else {
            throw QuantizationError.invalidOption(option: "weakColumns", value: "\(weak.count)", reason: "must leave columns to quantize (in = \(n))")
        }
        for (i, c) in weak.enumerated() where c < 0 || c >= n || (i > 0 && c <= weak[i - 1]) {
            throw QuantizationError.invalidOption(option: "weakColumns", value: "[\(i)] = \(c)",
                                                  reason: "must be strictly ascending input columns in 0..<\(n)")
        }
    }

    /// Per-output-row parameters of the (processing-order) columns `cols` of the transposed weights;
    /// `columnOf` maps an original column index to its processing position when groups are static.
    /// The L_p search costs ~50 µs per group; it runs on two threads, which is safe because no
    /// BLAS call is in flight here (so never more than two busy threads on the two cores).
    private static func parameters(_ wt: UnsafePointer<Float>, _ cols: Range<Int>, _ out: Int, _ q: UniformQuantizer,
                                   columnOf: (Int) -> Int = { $0 }) -> [GridParameters] {
        let threads = q.search == .minMax || out < 64 ? 1 : 2
        var result = [GridParameters](repeating: GridParameters(scale: 1, zero: 0), count: out)
        result.withUnsafeMutableBufferPointer { res in
            let res = UncheckedSendable(res), wt = UncheckedSendable(wt)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var buf = [Float](repeating: 0, count: cols.count)
                for r in stride(from: t, to: out, by: threads) {
                    for (j, c) in cols.enumerated() { buf[j] = wt.value[columnOf(c) * out + r] }
                    res.value[r] = buf.withUnsafeBufferPointer { q.parameters($0) }
                }
            }
        }
        return result
    }

    /// U with H⁻¹ = UᵀU (torch `cholesky(cholesky_inverse(cholesky(H)), upper=True)`), in float32.
    /// LAPACK is column-major: a row-major symmetric matrix reads the same, and its "L" factor read
    /// back row-major is exactly the upper factor we want.
    static func upperCholeskyOfInverse(_ h: [Double], _ n: Int) throws -> [Float] {
        var a = h, info: Int32 = 0, dim = Int32(n)
        let lower: [CChar] = [76, 0]  // "L"
        dpotrf_(lower, &dim, &a, &dim, &info)
        if info != 0 { throw QuantizationError.choleskyFailed(routine: "dpotrf", info: Int(info)) }
        dpotri_(lower, &dim, &a, &dim, &info)
        if info != 0 { throw QuantizationError.choleskyFailed(routine: "dpotri", info: Int(info)) }
        for i in 0..<n { for j in 0..<i { a[i * n + j] = a[j * n + i] } }
        dpotrf_(lower, &dim, &a, &dim, &info)
        if info != 0 { throw QuantizationError.choleskyFailed(routine: "dpotrf (inverse)", info: Int(info)) }
        var u = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { u[i * n + j] = Float(a[i * n + j]) } }
        return u
    }

    private static func assemble(_ codes: [UInt8], _ params: [[GridParameters]], _ staticParams: [[GridParameters]],
                                 _ order: [Int], _ wt: [Float], _ weakColumns: [Int], _ out: Int, _ n: Int,
                                 _ group: Int, _ bits: Int, _ options: Options) -> Result {
        let nq = n - weakColumns.count
        var q = QuantizedMatrix(rows: out, cols: nq, bits: bits, groupSize: group)
        let isStatic = !staticParams.isEmpty
        for j in 0..<nq {
            // With act-order the stored column is the original one; otherwise the order is already ascending.
            let c = isStatic ? order[j] : j
            for r in 0..<out { q.codes[r * nq + c] = codes[j * out + r] }
        }
        for g in 0..<q.groupCount {
            for r in 0..<out { q.setParameters(row: r, group: g, isStatic ? staticParams[g][r] : params[g][r]) }
        }
        var weak = Matrix(zeros: out, weakColumns.count)
        for j in 0..<weakColumns.count { for r in 0..<out { weak[r, j] = wt[(nq + j) * out + r] } }
        return Result(quantized: q, weak: weak, weakIndices: weakColumns)
    }
}

/// A pointer handed to `concurrentPerform`'s workers, which write disjoint rows.
private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
