import CKernels
import Models
import Tensor

/// Decode-time matrix–vector products with int8 activations (llama.cpp's Q8 activation idea).
///
/// x is quantized once per product, per weight group g: d_g = max|x_j| / 127, q_j = round(x_j / d_g),
/// and the group's Σ q_j is kept, so the asymmetric weight s·(c − z) turns the group's dot product
/// into s · d_g · (Σ c_j q_j − z · Σ q_j): integer SIMD inside the group (vpmaddubsw on the code
/// bytes against the activation bytes), two FMAs per group outside it. On AVX2 the float kernel
/// (`gemv(_:_:)`) is bound by its convert-and-FMA per weight; this one does 32 multiply-adds per
/// instruction. The integer work is C (`CKernels`): Swift's SIMD types compile the byte products
/// to scalar loops. The two-core split is the float kernel's (`forTileHalves`).
///
/// Error against float activations: |x_j − d_g q_j| ≤ d_g / 2, so each output moves by at most
/// Σ_j |w_rj| · d_{g(j)} / 2 (plus float rounding). 2, 3, 4 and 8 bits have integer kernels; the
/// other widths keep float activations.
extension PackedWeights {
    /// y[rows] = W · x[cols], with x at `activations` precision.
    public func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, activations: ActivationPrecision) {
        guard activations == .int8, qaft_int8_gemv_supports(Int32(bits)) != 0 else {
            gemv(x, y)
            return
        }
        let gc = groupCount, pc = paddedCols
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 2 * pc) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: gc) { xScale in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: gc) { xSum in
                    let q = bytes.baseAddress!, arranged = q + pc
                    qaft_quantize_activations(x, Int32(cols), Int32(pc), Int32(groupSize), q, xScale.baseAddress!, xSum.baseAddress!)
                    qaft_arrange_activations(Int32(bits), q, Int32(pc), arranged)
                    words.withUnsafeBufferPointer { w in
                        laneScales.withUnsafeBufferPointer { s in
                            laneZeros.withUnsafeBufferPointer { z in
                                forTileHalves { tiles in
                                    qaft_int8_gemv(w.baseAddress!, Int32(bits), Int32(rows), Int32(chunks), Int32(groupSize), Int32(gc),
                                                   s.baseAddress!, z.baseAddress!, arranged, xScale.baseAddress!, xSum.baseAddress!,
                                                   Int32(tiles.lowerBound), Int32(tiles.upperBound), y)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
