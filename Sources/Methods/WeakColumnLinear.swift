import Models
import Tensor
import Training

/// QEFT/OWQ Weak Column Tuning (qeft.md §1.9): a frozen low-bit layer whose k weak input columns
/// are a trainable float block, y = x·W_lowᵀ + x[:, J]·W_weakᵀ.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); W_weak, dW_weak (out, k); x_J (rows, k).
/// `low` is the frozen low-bit part over the full input width with its weak columns contributing
/// nothing (the packed format stores them as zero). Backward: dx = dy·W_low + scatter_J(dy·W_weak)
/// and dW_weak += dyᵀ·x_J, so the only weight gradient is the (out, k) block; x_J is read straight
/// from the caller's x (a strided slice when J is one contiguous run, as after OGR; a small gather
/// otherwise, as for o_proj's run-time permutation).
public final class WeakColumnLinear: TrainableLinear {
    public let low: any InputGradientLinear
    /// Strictly ascending input columns J of the weak block.
    public let weakIndices: [Int]
    public let weak: Parameter
    /// First column of J when J is one contiguous run (no gather needed).
    private let runStart: Int?
    private let gathered = FloatBuffer(), dGathered = FloatBuffer()

    /// `weak` holds the (out, k) block's starting values (the GPTQ-compensated fp columns).
    public init(low: any InputGradientLinear, weak: Matrix, weakIndices: [Int], name: String) throws {
        let k = weakIndices.count
        guard weak.rows == low.outFeatures, weak.cols == k, k > 0 else {
            throw MethodError.invalidOption(option: "\(name).weak", value: "\(weak.rows)×\(weak.cols)",
                                            reason: "must be (\(low.outFeatures), k ≥ 1) for \(k) weak indices")
        }
        for (i, c) in weakIndices.enumerated() where c < 0 || c >= low.inFeatures || (i > 0 && c <= weakIndices[i - 1]) {
            throw MethodError.invalidOption(option: "\(name).weakIndices", value: "[\(i)] = \(c)",
                                            reason: "must be strictly ascending input columns in 0..<\(low.inFeatures)")
        }
        self.low = low
        self.weakIndices = weakIndices
        self.weak = Parameter(name: name + ".weak", rows: weak.rows, cols: k)
        self.weak.assign(weak)
        runStart = weakIndices[k - 1] - weakIndices[0] == k - 1 ? weakIndices[0] : nil
    }

    public var inFeatures: Int { low.inFeatures }
    public var outFeatures: Int { low.outFeatures }
    public var parameters: [Parameter] { [weak] }
    private var k: Int { weakIndices.count }

    /// x_J and its row stride: a view into x for a contiguous run, else a gathered copy.
    private func weakInput(_ x: UnsafePointer<Float>, rows: Int) -> (UnsafePointer<Float>, Int) {
        if let s = runStart { return (x + s, inFeatures) }
        let g = gathered.reserve(rows * k), n = inFeatures
        for r in 0..<rows { for (j, c) in weakIndices.enumerated() { g[r * k + j] = x[r * n + c] } }
        return (UnsafePointer(g), k)
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        low.apply(x, rows: rows, into: y)
        let (xj, ld) = weakInput(x, rows: rows)
        BLAS.gemm(transB: true, m: rows, n: outFeatures, k: k, a: xj, lda: ld, b: weak.value.pointer, ldb: k,
                  beta: 1, c: y, ldc: outFeatures)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures
        let (xj, ld) = weakInput(x, rows: rows)
        BLAS.gemm(transA: true, m: m, n: k, k: rows, a: dy, lda: m, b: xj, ldb: ld, beta: 1, c: weak.gradient.pointer, ldc: k)
        low.applyTransposed(dy, rows: rows, into: dx, accumulate: accumulate)
        if let s = runStart {
            BLAS.gemm(m: rows, n: k, k: m, a: dy, lda: m, b: weak.value.pointer, ldb: k, beta: 1, c: dx + s, ldc: n)
        } else {
            let d = dGathered.reserve(rows * k)
            BLAS.gemm(m: rows, n: k, k: m, a: dy, lda: m, b: weak.value.pointer, ldb: k, c: d, ldc: k)
            for r in 0..<rows { for (j, c) in weakIndices.enumerated() { dx[r * n + c] += d[r * k + j] } }
        }
    }
}
