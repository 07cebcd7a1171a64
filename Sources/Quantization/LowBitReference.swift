import Tensor

/// Naive reference kernels: unpack one code at a time, dequantize, multiply in float64. The fast
/// kernels in LowBitGEMV/LowBitGEMM are tested against these.
public enum LowBitReference {
    /// y = W x for packed weights.
    public static func gemv(_ w: PackedWeights, _ x: [Float]) -> [Float] {
        (0..<w.rows).map { r in
            var acc = 0.0
            for c in 0..<w.cols {
                let g = r * w.groupCount + c / w.groupSize
                acc += Double(w.scales[g] * (Float(w.code(row: r, col: c)) - w.zeros[g])) * Double(x[c])
            }
            return Float(acc)
        }
    }

    /// Y = X Wᵀ (X is n × cols, row-major) for packed weights.
    public static func gemm(_ w: PackedWeights, _ x: Matrix) -> Matrix {
        var y = Matrix(zeros: x.rows, w.rows)
        for i in 0..<x.rows {
            let row = gemv(w, x.row(i))
            for r in 0..<w.rows { y[i, r] = row[r] }
        }
        return y
    }

    /// dX = dY W (dY is n × rows, row-major): the input gradient through packed weights.
    public static func gemmTransposed(_ w: PackedWeights, _ dy: Matrix) -> Matrix {
        var dx = Matrix(zeros: dy.rows, w.cols)
        for i in 0..<dy.rows {
            for c in 0..<w.cols {
                var acc = 0.0
                for r in 0..<w.rows {
                    let g = r * w.groupCount + c / w.groupSize
                    acc += Double(w.scales[g] * (Float(w.code(row: r, col: c)) - w.zeros[g])) * Double(dy[i, r])
                }
                dx[i, c] = Float(acc)
            }
        }
        return dx
    }

    /// y = W x for the mixed layout: the low-bit part on the gathered non-weak inputs plus the weak
    /// block on the weak ones.
    public static func gemv(_ w: MixedPrecisionWeights, _ x: [Float]) -> [Float] {
        let order = w.storedOrder, nq = w.lowBit.cols
        let low = gemv(w.lowBit, order.prefix(nq).map { x[$0] })
        return (0..<w.rows).map { r in
            Float(w.weakIndices.enumerated().reduce(Double(low[r])) { $0 + Double(w.weak[r, $1.offset]) * Double(x[$1.element]) })
        }
    }

    /// Y = X Wᵀ for the mixed layout.
    public static func gemm(_ w: MixedPrecisionWeights, _ x: Matrix) -> Matrix {
        var y = Matrix(zeros: x.rows, w.rows)
        for i in 0..<x.rows {
            let row = gemv(w, x.row(i))
            for r in 0..<w.rows { y[i, r] = row[r] }
        }
        return y
    }
}
