import CBLAS
import Models
import Quantization
import Tensor
import Training

/// LoftQ* (Li et al., re-run with a uniform grid as in L4Q's tables): each target layer's base Q and
/// LoRA factors start from T alternating steps Q_t = quant(W − (α/r)·B_{t−1}A_{t−1}),
/// (α/r)·B_t A_t = best rank-r approximation of W − Q_t (truncated SVD, √Σ split between the
/// factors as peft's `loftq_init`), so Q + (α/r)·BA ≈ W before training. Then LoRA fine-tuning on
/// the frozen Q with AdamW; export unmerged ("b&16").
///
/// Options: `rank`, `alpha`, `dropout`, `targets`, `bits`, `groupSize` (RTN asymmetric grid);
/// `extra["iterations"]` T (default 1, peft's `loftq_iter` default). Non-target projections are
/// plain RTN. Export metrics: the relative Frobenius error ‖W − Q − (α/r)BA‖/‖W‖ of the target
/// layers at initialisation ("initialError") beside plain RTN's ‖W − Q_rtn‖/‖W‖ ("rtnError").
public final class LoftQ: FineTuningMethod {
    public static let name = "loftq"
    public static let version = "1"
    public let options: MethodOptions
    public let iterations: Int
    private var base: LlamaWeights?
    private var errors: [String: Double] = [:]

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        iterations = try ExtraOptions(options.extra, method: Self.name, allowed: ["iterations"]).count("iterations", default: 1)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        let config = context.weights.config
        try options.validateQuantization(for: config)
        let limit = Projection.allCases.map { min($0.shape(config).rows, $0.shape(config).cols) }.min()!
        guard options.rank <= limit else {
            throw MethodError.invalidOption(option: "rank", value: "\(options.rank)",
                                            reason: "LoftQ's SVD needs rank ≤ the smallest layer dimension (\(limit))")
        }
        let quantizer = try UniformQuantizer(bits: options.bits, grid: .asymmetric)
        let lora = FrozenBaseLoRA(options: options), scale = lora.config.scale
        var random = SeededRandom(seed: context.seed)
        var norm = 0.0, rtn = 0.0, loftq = 0.0
        let model = try TrainableLlama(context.weights) { site, dense -> any TrainableLinear in
            let w = dense.weight
            guard options.targets.contains(site.projection) else {
                return FrozenLinear(GridLinear(try quantizer.quantize(w, groupSize: options.groupSize)))
            }
            var residual = w
            var grid = try quantizer.quantize(w, groupSize: options.groupSize)
            rtn += squaredDistance(w, grid.dequantized())
            var factors = (left: Matrix(zeros: w.rows, options.rank), right: Matrix(zeros: options.rank, w.cols))
            for _ in 0..<iterations {
                grid = try quantizer.quantize(residual, groupSize: options.groupSize)
                factors = try Self.lowRank(difference(w, grid.dequantized()), rank: options.rank, site: site)
                residual = difference(w, product(factors.left, factors.right))
            }
            let q = grid.dequantized()
            loftq += squaredDistance(difference(w, q), product(factors.left, factors.right))
            norm += squaredDistance(w, Matrix(zeros: w.rows, w.cols))
            let layer = LoRALinear(base: GridLinear(grid), config: lora.config, name: site.description, random: &random)
            // scale·B·A = left·right: each factor takes 1/√scale.
            let unscale = 1 / scale.squareRoot()
            layer.b.assign(Matrix(rows: w.rows, cols: options.rank, storage: factors.left.storage.map { $0 * unscale }))
            layer.a.assign(Matrix(rows: options.rank, cols: w.cols, storage: factors.right.storage.map { $0 * unscale }))
            return layer
        }
        errors = ["initialError": (loftq / norm).squareRoot(), "rtnError": (rtn / norm).squareRoot()]
        base = context.weights
        return model
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        FrozenBaseLoRA(options: options).parameterGroups(model)
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        var result = try FrozenBaseLoRA(options: options).export(
            model, weights: prepared(base, Self.name),
            baseBitsPerWeight: uniformBitsPerWeight(bits: options.bits, groupSize: options.groupSize, zeroBits: options.bits))
        result.metrics = errors
        return result
    }

    /// The best rank-r approximation of m (out × in) as left (out × r) = U√Σ and right (r × in) = √ΣVᵀ,
    /// from LAPACK's divide-and-conquer SVD.
    static func lowRank(_ m: Matrix, rank: Int, site: LinearSite) throws -> (left: Matrix, right: Matrix) {
        // Row-major m is column-major mᵀ (in × out): mᵀ = U'ΣV'ᵀ, so m's left vectors are V' and its
        // right vectors U'.
        var a = m.storage
        var rowsT = Int32(m.cols), colsT = Int32(m.rows), lda = rowsT
        let k = Int(min(rowsT, colsT))
        var s = [Float](repeating: 0, count: k), u = [Float](repeating: 0, count: Int(rowsT) * k)
        var vt = [Float](repeating: 0, count: k * Int(colsT)), iwork = [Int32](repeating: 0, count: 8 * k)
        var ldu = rowsT, ldvt = Int32(k), info: Int32 = 0, lwork: Int32 = -1, query: Float = 0
        var jobz = Int8(UInt8(ascii: "S"))
        sgesdd_(&jobz, &rowsT, &colsT, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info)
        lwork = Int32(query)
        var work = [Float](repeating: 0, count: Int(lwork))
        if info == 0 { sgesdd_(&jobz, &rowsT, &colsT, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info) }
        guard info == 0 else {
            throw MethodError.invalidOption(option: "\(site).svd", value: "info \(info)", reason: "LAPACK sgesdd did not converge")
        }
        var left = Matrix(zeros: m.rows, rank), right = Matrix(zeros: rank, m.cols)
        for c in 0..<rank {
            let root = s[c].squareRoot()
            for j in 0..<m.rows { left[j, c] = vt[c + j * k] * root }
            for i in 0..<m.cols { right[c, i] = u[i + c * Int(rowsT)] * root }
        }
        return (left, right)
    }
}

private func difference(_ a: Matrix, _ b: Matrix) -> Matrix {
    Matrix(rows: a.rows, cols: a.cols, storage: zip(a.storage, b.storage).map { $0 - $1 })
}

private func squaredDistance(_ a: Matrix, _ b: Matrix) -> Double {
    zip(a.storage, b.storage).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
}

/// left (m × r) · right (r × n).
private func product(_ left: Matrix, _ right: Matrix) -> Matrix {
    var out = Matrix(zeros: left.rows, right.cols)
    left.storage.withUnsafeBufferPointer { l in
        right.storage.withUnsafeBufferPointer { r in
            out.storage.withUnsafeMutableBufferPointer { o in
                BLAS.gemm(m: left.rows, n: right.cols, k: left.cols, a: l.baseAddress!, lda: left.cols,
                          b: r.baseAddress!, ldb: right.cols, c: o.baseAddress!, ldc: right.cols)
            }
        }
    }
    return out
}
