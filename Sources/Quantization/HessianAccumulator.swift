import CBLAS

/// Accumulates GPTQ's layer Hessian H = 2·X·Xᵀ / N from batches of input rows (tokens × in).
///
/// N counts *samples* the way GPTQ's `add_batch` does: one per call unless the caller says the
/// batch holds several sequences (a (1, seq, in) input is one sample), so H = 2/N · Σ_tokens x xᵀ.
/// Each batch's XᵀX is formed in float32 by `ssyrk` (fast; a batch is at most a few thousand
/// rows) and added into a float64 sum, so rounding does not grow with the number of batches.
public struct HessianAccumulator: Sendable {
    public let dimension: Int
    public private(set) var sampleCount = 0
    /// Upper triangle (row-major, full square storage) of Σ x xᵀ.
    private var sum: [Double]
    private var batch: [Float]

    public init(dimension: Int) {
        self.dimension = dimension
        sum = [Double](repeating: 0, count: dimension * dimension)
        batch = [Float](repeating: 0, count: dimension * dimension)
    }

    /// Adds `count` input rows (row stride `ld`, default `dimension`) that make up `samples` samples.
    public mutating func add(rows x: UnsafePointer<Float>, count: Int, ld: Int? = nil, samples: Int = 1) {
        guard count > 0 else { return }
        let n = dimension
        batch.withUnsafeMutableBufferPointer { b in
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(count), 1, x, Int32(ld ?? n),
                        0, b.baseAddress!, Int32(n))
        }
        for i in 0..<n { for j in i..<n { sum[i * n + j] += Double(batch[i * n + j]) } }
        sampleCount += samples
    }

    /// H = 2/N · Σ x xᵀ as a full symmetric (dimension × dimension) float64 matrix.
    public func hessian() -> [Double] {
        let n = dimension, f = sampleCount > 0 ? 2 / Double(sampleCount) : 0
        var h = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                h[i * n + j] = f * sum[i * n + j]
                h[j * n + i] = h[i * n + j]
            }
        }
        return h
    }

    /// diag(H), all that weak-column selection needs.
    public func diagonal() -> [Double] {
        let f = sampleCount > 0 ? 2 / Double(sampleCount) : 0
        return (0..<dimension).map { f * sum[$0 * dimension + $0] }
    }
}
