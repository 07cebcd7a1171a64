import Tensor

/// Unpacked result of uniform quantization: one code per weight plus per-(row, group) grid
/// parameters, w = scale · (code − zero). Groups are runs of `groupSize` consecutive columns; the
/// last may be shorter (GPTQ with weak columns leaves `in − k` columns, not always a multiple of
/// the group size).
///
/// A grid made deployable with a fractional zero (`deployable()`) also stores each group's value
/// at code 0 as such, `offsets`, and then w = scale · code + offset: llama.cpp's Q4_1 d·q + m
/// with d and m fp16 numbers, which scale · (code − zero) cannot reproduce for a fractional zero.
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
    /// (rows, groupCount) row-major, or nil: see the type's documentation. When set, `zeros` hold
    /// −offset / scale (for the decode kernels, which fold the zero into a per-group sum).
    public var offsets: [Float]?

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

    /// Every weight.
    public func dequantized() -> Matrix {
        var m = Matrix(zeros: rows, cols)
        m.storage.withUnsafeMutableBufferPointer { dequantize(into: $0.baseAddress!) }
        return m
    }

    /// w[r, c] = scale[r, g] · (code[r, c] − zero[r, g]), or scale[r, g] · code[r, c] + offset[r, g]
    /// when `offsets` is set, with g = c / groupSize, into `out` (rows × cols). The one place the
    /// grid's float expression is written down (`PackedWeights` decodes the same per lane).
    public func dequantize(into out: UnsafeMutablePointer<Float>) {
        let gc = groupCount
        codes.withUnsafeBufferPointer { codes in
            for r in 0..<rows {
                for g in 0..<gc {
                    let k = r * gc + g, scale = scales[k], zero = zeros[k]
                    let start = r * cols + g * groupSize, end = r * cols + min(cols, (g + 1) * groupSize)
                    if let offset = offsets?[k] {
                        for i in start..<end { out[i] = scale * Float(codes[i]) + offset }
                    } else {
                        for i in start..<end { out[i] = scale * (Float(codes[i]) - zero) }
                    }
                }
            }
        }
    }
}
