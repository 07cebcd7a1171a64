import Tensor

/// Prefill/training products Y = X · Wᵀ for packed weights. A tile of W's rows is dequantized with
/// the SIMD decoders into a scratch buffer, then handed to `BLAS.gemm`; the dequantization cost is
/// amortised over all n rows of X. Measured on SmolLM2 shapes (n = 128), narrow tiles (≤ 256 KiB)
/// made OpenBLAS up to 2× slower than one sgemm over the whole dequantized matrix, so a tile holds
/// up to 4 MiB: every SmolLM2 layer is a single tile, larger layers stream in 4 MiB pieces.
extension PackedWeights {
    /// Rows dequantized per tile: up to 2²⁰ floats of scratch, a multiple of 16 rows.
    func tileRows() -> Int { min(rows, max(16, ((1 << 20) / paddedCols) / 16 * 16)) }

    /// Y[n×rows] (row stride `ldy`) = X[n×cols] (row stride `ldx`) · Wᵀ + beta · Y.
    public func gemm(_ x: UnsafePointer<Float>, ldx: Int, n: Int,
                     _ y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float = 0) {
        let tile = tileRows(), ld = paddedCols
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tile * ld) { scratch in
            for r0 in stride(from: 0, to: rows, by: tile) {
                let t = min(tile, rows - r0)
                dequantizeRows(r0..<(r0 + t), into: scratch.baseAddress!, ld: ld)
                BLAS.gemm(transB: true, m: n, n: t, k: cols, a: x, lda: ldx, b: scratch.baseAddress!, ldb: ld,
                          beta: beta, c: y + r0, ldc: ldy)
            }
        }
    }
}

extension MixedPrecisionWeights {
    /// Y[n×rows] = X[n×cols] · Wᵀ: the low-bit product over the stored non-weak columns plus one
    /// small dense GEMM for the k weak columns (QEFT's prefill path).
    public func gemm(_ x: UnsafePointer<Float>, ldx: Int, n: Int,
                     _ y: UnsafeMutablePointer<Float>, ldy: Int) {
        let k = weakIndices.count
        withInputInStoredOrder(x, rows: n, ld: ldx) { xs, ld in
            lowBit.gemm(xs, ldx: ld, n: n, y, ldy: ldy)
            guard k > 0 else { return }
            weak.storage.withUnsafeBufferPointer { w in
                BLAS.gemm(transB: true, m: n, n: rows, k: k, a: xs + (cols - k), lda: ld,
                          b: w.baseAddress!, ldb: k, beta: 1, c: y, ldc: ldy)
            }
        }
    }
}
