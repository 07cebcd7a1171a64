import Tensor

/// Prefill/training products Y = X · Wᵀ for packed weights. Row tiles of W are dequantized with
/// the SIMD decoders (`dequantize(tiles:)`) and handed to `BLAS.gemm` exactly as the dense
/// `Linear` calls it (X · Wᵀ with W row-major): OpenBLAS's SkylakeX small-matrix kernels sum the
/// NN and NT products in different orders, and a lossless export must give the dense training
/// form's logits bit for bit. The dequantization and transpose are amortised over all n rows of X.
/// Measured on SmolLM2 shapes (n = 128), narrow tiles (≤ 256 KiB) made OpenBLAS up to 2× slower
/// than one sgemm over the whole dequantized matrix, so a tile holds up to 4 MiB: every SmolLM2
/// layer is a single tile, larger layers stream in 4 MiB pieces. In a bf16 scope both products
/// decode straight to bf16 tiles instead (`eachBF16Pass`).
extension PackedWeights {
    /// Row tiles dequantized per pass: up to 2²⁰ floats of scratch.
    func tilesPerPass() -> Int { min(tiles, max(1, (1 << 20) / (paddedCols * BitPacking.tileRows))) }

    /// Y[n×rows] (row stride `ldy`) = X[n×cols] (row stride `ldx`) · Wᵀ + beta · Y.
    public func gemm(_ x: UnsafePointer<Float>, ldx: Int, n: Int,
                     _ y: UnsafeMutablePointer<Float>, ldy: Int, beta: Float = 0) {
        if BF16.applies(m: n, n: rows, k: cols) {
            // Wᵀ straight into bf16 (no fp32 copy, no transpose): Y = X · (Wᵀ).
            return eachBF16Pass { t0, r, wt, ld in
                BF16.gemm(m: n, n: r, k: cols, a: .float(x, ld: ldx), b: .bf16(wt, ld: ld), beta: beta,
                          c: y + t0 * BitPacking.tileRows, ldc: ldy)
            }
        }
        let pass = tilesPerPass(), ld = pass * BitPacking.tileRows
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * paddedCols * ld) { scratch in
            let w = scratch.baseAddress!, wt = w + paddedCols * ld
            for t0 in stride(from: 0, to: tiles, by: pass) {
                let t1 = min(t0 + pass, tiles), r0 = t0 * BitPacking.tileRows, r = min(rows, t1 * BitPacking.tileRows) - r0
                dequantize(tiles: t0..<t1, into: w, scratch: wt)
                BLAS.gemm(transB: true, m: n, n: r, k: cols, a: x, lda: ldx,
                          b: w, ldb: cols, beta: beta, c: y + r0, ldc: ldy)
            }
        }
    }
}

extension PackedWeights {
    /// The bf16 form of both products (the current precision is bf16 and the product pays): for
    /// each pass of row tiles, `body(firstTile, rowCount, Wᵀ, ld)` with that pass's Wᵀ rounded to
    /// bf16 (`dequantizeTransposedBF16`, paddedCols × ld), the rounding a dense bf16 product applies
    /// to the dequantized weight.
    func eachBF16Pass(_ body: (Int, Int, UnsafePointer<UInt16>, Int) -> Void) {
        let pass = tilesPerPass(), ld = pass * BitPacking.tileRows
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: paddedCols * ld) { wt in
            for t0 in stride(from: 0, to: tiles, by: pass) {
                let t1 = min(t0 + pass, tiles)
                dequantizeTransposedBF16(tiles: t0..<t1, into: wt.baseAddress!, ld: ld)
                body(t0, min(rows, t1 * BitPacking.tileRows) - t0 * BitPacking.tileRows, wt.baseAddress!, ld)
            }
        }
    }

    /// dX[n×cols] = dY[n×rows] · W, or dX += … with `accumulate`: the input gradient through a
    /// frozen packed layer, from the same dequantized tiles as `gemm` (one pass-sized temporary).
    public func gemmTransposed(_ dy: UnsafePointer<Float>, lddy: Int, n: Int,
                               _ dx: UnsafeMutablePointer<Float>, lddx: Int, accumulate: Bool) {
        if BF16.applies(m: n, n: cols, k: rows) {
            return eachBF16Pass { t0, r, wt, ld in
                BF16.gemm(transB: true, m: n, n: cols, k: r, a: .float(dy + t0 * BitPacking.tileRows, ld: lddy),
                          b: .bf16(wt, ld: ld), beta: accumulate || t0 > 0 ? 1 : 0, c: dx, ldc: lddx)
            }
        }
        let pass = tilesPerPass(), ld = pass * BitPacking.tileRows
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCols * ld) { scratch in
            for t0 in stride(from: 0, to: tiles, by: pass) {
                let t1 = min(t0 + pass, tiles), r0 = t0 * BitPacking.tileRows
                dequantizeTransposed(tiles: t0..<t1, into: scratch.baseAddress!, ld: ld)
                // The tile pass holds Wᵀ for rows r0..<r1 as (cols × ld): dX += dY[:, r0..<r1] · (Wᵀ)ᵀ.
                BLAS.gemm(transB: true, m: n, n: cols, k: min(rows, t1 * BitPacking.tileRows) - r0, a: dy + r0, lda: lddy,
                          b: scratch.baseAddress!, ldb: ld, beta: accumulate || t0 > 0 ? 1 : 0, c: dx, ldc: lddx)
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
