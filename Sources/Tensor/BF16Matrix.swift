/// A row-major matrix held as bf16 bit patterns: a frozen weight rounded once, so the bf16
/// products of a training step or an evaluation do not reround it on every call.
public struct BF16Matrix: Sendable {
    public let rows: Int
    public let cols: Int
    public let storage: [UInt16]

    /// `m` rounded to bf16 (nearest, ties to even).
    public init(_ m: Matrix) {
        rows = m.rows
        cols = m.cols
        storage = m.storage.withUnsafeBufferPointer { src in
            [UInt16](unsafeUninitializedCapacity: m.rows * m.cols) { out, count in
                guard let from = src.baseAddress, m.rows * m.cols > 0 else { count = 0; return }
                BF16.round(from, ld: m.cols, rows: m.rows, cols: m.cols, into: out.baseAddress!, ldOut: m.cols)
                count = m.rows * m.cols
            }
        }
    }
}
