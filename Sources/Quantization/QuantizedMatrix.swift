import Tensor

/// Unpacked result of uniform quantization: one code per weight plus per-(row, group) grid
/// parameters. Groups are runs of `groupSize` consecutive columns; the last may be shorter (GPTQ
/// with weak columns leaves `in − k` columns, not always a multiple of the group size).
public struct QuantizedMatrix: Equatable, Sendable {
    public let rows: Int
    public let cols: Int
    public let bits: Int
    public let groupSize: Int
    /// (rows, cols) row-major, each in 0…2^bits−1.
    public var codes: [UInt8]
    /// (rows, groupCount) row-major.
    public var scales: [Float]
    public var zeros: [Float]

    public init(rows: Int, cols: Int, bits: Int, groupSize: Int) {
        self.rows = rows
        self.cols = cols
        self.bits = bits
        self.groupSize = groupSize
        let groups = (cols + groupSize - 1) / groupSize
        codes = [UInt8](repeating: 0, count: rows * cols)
        scales = [Float](repeating: 0, count: rows * groups)
        zeros = [Float](repeating: 0, count: rows * groups)
    }

    public var groupCount: Int { (cols + groupSize - 1) / groupSize }

    public func parameters(row: Int, group: Int) -> GridParameters {
        GridParameters(scale: scales[row * groupCount + group], zero: zeros[row * groupCount + group])
    }

    public mutating func setParameters(row: Int, group: Int, _ p: GridParameters) {
        scales[row * groupCount + group] = p.scale
        zeros[row * groupCount + group] = p.zero
    }

    /// scale · (code − zero) for every weight.
    public func dequantized() -> Matrix {
        var m = Matrix(zeros: rows, cols)
        let gc = groupCount
        for r in 0..<rows {
            for c in 0..<cols {
                let g = r * gc + c / groupSize
                m.storage[r * cols + c] = scales[g] * (Float(codes[r * cols + c]) - zeros[g])
            }
        }
        return m
    }
}
