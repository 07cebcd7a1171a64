import Tensor

/// Decode-time matrix–vector products (batch 1) that dequantize on the fly.
///
/// Per row, y_r = Σ_g s_rg · (Σ_{j∈g} q_j x_j − z_rg · Σ_{j∈g} x_j): the group sums of x are
/// computed once per call and shared by all rows, so the inner loop is only decode + FMA on 16
/// lanes. Single-threaded on purpose: the caller's OpenBLAS already owns both cores, and a decode
/// step is a chain of small products where a thread hand-off would cost more than it saves.
extension PackedWeights {
    /// y[rows] = W · x[cols].
    public func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        switch bits {
        case 2: gemv(Decode2.self, x, y)
        case 3: gemv(Decode3.self, x, y)
        case 4: gemv(Decode4.self, x, y)
        default: gemv(Decode8.self, x, y)
        }
    }

    private func gemv<D: CodeDecoder>(_: D.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let gc = groupCount, cb = BitPacking.chunkBytes(bits: bits), rb = rowBytes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCols + gc) { scratch in
            // x padded with zeros so the padding codes of the last chunk contribute nothing.
            let xp = scratch.baseAddress!, sums = xp + paddedCols
            xp.update(from: x, count: cols)
            (xp + cols).initialize(repeating: 0, count: paddedCols - cols)
            for g in 0..<gc {
                var s: Float = 0
                for j in (g * groupSize)..<min(cols, (g + 1) * groupSize) { s += xp[j] }
                sums[g] = s
            }
            let xv = UnsafeRawPointer(xp)
            packed.withUnsafeBytes { p in
                scales.withUnsafeBufferPointer { sc in
                    zeros.withUnsafeBufferPointer { zr in
                        for r in 0..<rows {
                            let row = p.baseAddress! + r * rb
                            var acc = SIMD16<Float>(repeating: 0)
                            var correction: Float = 0
                            for g in 0..<gc {
                                let v0 = g * groupSize / 16
                                let v1 = min(v0 + groupSize / 16, paddedCols / 16)
                                var dot = SIMD16<Float>(repeating: 0)
                                for v in v0..<v1 {
                                    let xs = xv.loadUnaligned(fromByteOffset: 64 * v, as: SIMD16<Float>.self)
                                    dot.addProduct(D.decode(row + (v >> 1) * cb, half: v & 1), xs)
                                }
                                let s = sc[r * gc + g]
                                acc.addProduct(SIMD16(repeating: s), dot)
                                correction += s * zr[r * gc + g] * sums[g]
                            }
                            y[r] = acc.sum() - correction
                        }
                    }
                }
            }
        }
    }
}

extension MixedPrecisionWeights {
    /// y[rows] = W · x[cols] with the low-bit part and the fp weak block. In the QEFT (tail)
    /// layout both read contiguous slices of x; otherwise (OWQ, scattered weak columns) x is first
    /// gathered into the stored column order.
    public func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let k = weakIndices.count
        withInputInStoredOrder(x, rows: 1, ld: cols) { xs, _ in
            lowBit.gemv(xs, y)
            guard k > 0 else { return }
            weak.storage.withUnsafeBufferPointer { w in
                BLAS.gemv(m: rows, n: k, a: w.baseAddress!, lda: k, x: xs + (cols - k), beta: 1, y: y)
            }
        }
    }
}
