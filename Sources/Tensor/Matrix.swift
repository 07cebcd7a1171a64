/// A dense row-major Float matrix that owns its storage. Weights of a linear layer are (out, in):
/// row r holds the weights feeding output r.
public struct Matrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public var storage: [Float]

    public init(rows: Int, cols: Int, storage: [Float]) {
        precondition(storage.count == rows * cols, "Matrix storage \(storage.count) ≠ \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    public init(zeros rows: Int, _ cols: Int) {
        self.init(rows: rows, cols: cols, storage: [Float](repeating: 0, count: rows * cols))
    }

    public var count: Int { rows * cols }

    @inlinable public subscript(r: Int, c: Int) -> Float {
        get { storage[r * cols + c] }
        set { storage[r * cols + c] = newValue }
    }

    /// Row r as a copy (for tests and small lookups; hot paths use pointers).
    public func row(_ r: Int) -> [Float] { Array(storage[(r * cols)..<((r + 1) * cols)]) }

    public func transposed() -> Matrix {
        var t = Matrix(zeros: cols, rows)
        for r in 0..<rows { for c in 0..<cols { t.storage[c * rows + r] = storage[r * cols + c] } }
        return t
    }
}
