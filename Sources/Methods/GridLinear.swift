import Models
import Quantization
import Tensor

/// A deployed uniform-grid layer: integer codes in 0…2^b−1 with a float scale and a (possibly
/// fractional) zero point per (output row, input group), w = scale · (code − zero) (or
/// scale · code + offset, `QuantizedMatrix.dequantize`).
///
/// The weight is dequantized once and applied with cblas. QA-LoRA's and LoTA-QAF's training layers
/// build their effective weight with the same `QuantizedMatrix.dequantize` on the same (codes, scales, zeros) their
/// export stores, and apply it with the same `Linear` calls, so an exported model computes its
/// training form bit for bit. (A packed low-bit kernel computes the same function, summed in another
/// order, and packing needs groups that are multiples of 16, which stories260K's 172-wide FFN input
/// cannot have.)
public final class GridLinear: InputGradientLinear {
    public let grid: QuantizedMatrix
    private let dense: DenseLinear

    public init(_ grid: QuantizedMatrix) {
        self.grid = grid
        var w = Matrix(zeros: grid.rows, grid.cols)
        w.storage.withUnsafeMutableBufferPointer { grid.dequantize(into: $0.baseAddress!) }
        dense = DenseLinear(w)
    }

    public var inFeatures: Int { grid.cols }
    public var outFeatures: Int { grid.rows }
    /// The dequantized weight (out, in).
    public var weight: Matrix { dense.weight }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        dense.apply(x, rows: rows, into: y)
    }

    public func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        dense.applyTransposed(dy, rows: rows, into: dx, accumulate: accumulate)
    }
}
