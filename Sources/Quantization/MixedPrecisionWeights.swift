import Tensor

/// The OWQ/QEFT layer format: the k "weak" input columns kept as a dense float block (the only
/// weights WCT trains) and every other column in low-bit packed form.
///
/// Stored column order is [non-weak columns ascending | weak columns ascending]. After QEFT's
/// Offline Global Reordering the weak columns are the last k inputs, the stored order is the
/// identity and the kernels read x in two contiguous slices (`isTail`); with OWQ's scattered weak
/// columns they gather x first.
public struct MixedPrecisionWeights: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    /// (rows, cols − k): the non-weak columns, ascending input order.
    public var lowBit: PackedWeights
    /// (rows, k): weak column j is input column `weakIndices[j]`.
    public var weak: Matrix
    /// Strictly ascending input indices of the weak columns.
    public let weakIndices: [Int]

    public init(lowBit: PackedWeights, weak: Matrix, weakIndices: [Int]) throws {
        let k = weakIndices.count
        guard weak.rows == lowBit.rows, weak.cols == k else {
            throw QuantizationError.shapeMismatch(what: "weak block", expected: [lowBit.rows, k], found: [weak.rows, weak.cols])
        }
        let cols = lowBit.cols + k
        for (i, c) in weakIndices.enumerated() where c < 0 || c >= cols || (i > 0 && c <= weakIndices[i - 1]) {
            throw QuantizationError.invalidOption(
                option: "weakIndices", value: "[\(i)] = \(c)",
                reason: "must be strictly ascending input columns in 0..<\(cols)")
        }
        self.rows = lowBit.rows
        self.cols = cols
        self.lowBit = lowBit
        self.weak = weak
        self.weakIndices = weakIndices
    }

    /// The weak columns are the last k inputs (QEFT after reordering): no gather needed.
    public var isTail: Bool { weakIndices.first.map { $0 == cols - weakIndices.count } ?? true }

    /// Input column of each stored column: [non-weak ascending | weak].
    public var storedOrder: [Int] {
        var isWeak = [Bool](repeating: false, count: cols)
        for c in weakIndices { isWeak[c] = true }
        return (0..<cols).filter { !isWeak[$0] } + weakIndices
    }

    /// Calls `body` with X (n rows) in stored column order and its row stride.
    func withInputInStoredOrder(_ x: UnsafePointer<Float>, rows n: Int, ld: Int,
                                _ body: (UnsafePointer<Float>, Int) -> Void) {
        if isTail { return body(x, ld) }
        let order = storedOrder
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n * cols) { g in
            for r in 0..<n {
                for (j, c) in order.enumerated() { g[r * cols + j] = x[r * ld + c] }
            }
            body(g.baseAddress!, cols)
        }
    }

    /// The full (rows, cols) weight in input order.
    public func dequantized() -> Matrix {
        let low = lowBit.dequantized()
        var m = Matrix(zeros: rows, cols)
        for (j, c) in storedOrder.enumerated() {
            let fromWeak = j >= lowBit.cols
            for r in 0..<rows {
                m.storage[r * cols + c] = fromWeak ? weak[r, j - lowBit.cols] : low[r, j]
            }
        }
        return m
    }
}
