import Models
import Quantization
import Tensor

/// A deployed uniform-grid layer: integer codes in 0…2^b−1 with a float scale and a (possibly
/// fractional) zero point per (output row, input group), w = scale · (code − zero).
///
/// The weight is dequantized once and applied with cblas. QA-LoRA's and LoTA-QAF's training layers
/// build their effective weight with the same `dequantize` on the same (codes, scales, zeros) their
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
        w.storage.withUnsafeMutableBufferPointer { Self.dequantize(grid, into: $0.baseAddress!) }
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

    /// w[r, c] = scale[r, g] · (code[r, c] − zero[r, g]) with g = c / groupSize, into `out` (rows × cols).
    /// The one place the grid's float expression is written down.
    public static func dequantize(_ q: QuantizedMatrix, into out: UnsafeMutablePointer<Float>) {
        let cols = q.cols, gs = q.groupSize, gc = q.groupCount
        q.codes.withUnsafeBufferPointer { codes in
            q.scales.withUnsafeBufferPointer { s in
                q.zeros.withUnsafeBufferPointer { z in
                    for r in 0..<q.rows {
                        for g in 0..<gc {
                            let scale = s[r * gc + g], zero = z[r * gc + g]
                            let start = r * cols + g * gs, end = r * cols + min(cols, (g + 1) * gs)
                            for i in start..<end { out[i] = scale * (Float(codes[i]) - zero) }
                        }
                    }
                }
            }
        }
    }
}
