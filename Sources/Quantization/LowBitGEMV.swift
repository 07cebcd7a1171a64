import Models
import Tensor

/// Decode-time matrix–vector products (batch 1) that dequantize on the fly.
///
/// One 16-row tile at a time, 16 output rows in the lanes of one vector: per group,
/// y_tile += s · (Σ_{j∈g} q_j x_j − z · Σ_{j∈g} x_j). The codes come out of the words as
/// q_j·2^o (see `BitPacking`), so x is pre-scaled by 2^−o once per call, and the group sums of x
/// are shared by all tiles: the inner loop is AND, convert, FMA with a broadcast x. The kernel is
/// compute-bound, so inside a `SecondCore.splitting` scope (decode) a large product splits its
/// tiles over the two cores.
extension PackedWeights {
    /// y[rows] = W · x[cols].
    public func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        switch bits {
        case 2: gemv(Width2.self, x, y)
        case 3: gemv(Width3.self, x, y)
        case 4: gemv(Width4.self, x, y)
        case 5: gemv(Width5.self, x, y)
        case 6: gemv(Width6.self, x, y)
        case 7: gemv(Width7.self, x, y)
        default: gemv(Width8.self, x, y)
        }
    }

    private func gemv<W: CodeWidth>(_: W.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let gc = groupCount, chunks = self.chunks, b = bits, lanes = BitPacking.tileRows, cc = BitPacking.chunkCodes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: paddedCols + gc) { scratch in
            // x scaled per field, padded with zeros so padding codes contribute nothing.
            let xs = scratch.baseAddress!, sums = xs + paddedCols
            for c in 0..<cols { xs[c] = x[c] * Float(sign: .plus, exponent: -BitPacking.fieldShift(c % cc, bits: b), significand: 1) }
            (xs + cols).initialize(repeating: 0, count: paddedCols - cols)
            for g in 0..<gc {
                var s: Float = 0
                for j in (g * groupSize)..<min(cols, (g + 1) * groupSize) { s += x[j] }
                sums[g] = s
            }
            words.withUnsafeBytes { w in
                laneScales.withUnsafeBufferPointer { sc in
                    laneZeros.withUnsafeBufferPointer { zr in
                        let w = w.baseAddress!, sc = sc.baseAddress!, zr = zr.baseAddress!
                        func run(_ tileRange: Range<Int>) {
                            for tile in tileRange {
                                var acc = SIMD16<Float>(repeating: 0)
                                for g in 0..<gc {
                                    // Groups are whole 16-column halves of the 32-column chunks.
                                    var half = g * groupSize / 16
                                    let end = g == gc - 1 ? 2 * chunks : (g + 1) * groupSize / 16
                                    var d0 = SIMD16<Float>(repeating: 0), d1 = d0, d2 = d0, d3 = d0
                                    while half < end {
                                        let chunk = half >> 1
                                        let block = w + 4 * BitPacking.blockOffset(tile: tile, chunk: chunk, chunks: chunks, bits: b)
                                        let xc = xs + chunk * cc
                                        // Constant field ranges so every mask and shift folds after inlining.
                                        if half & 1 == 0 && half + 1 < end {
                                            W.accumulate(block, xc, fields: 0..<32, &d0, &d1, &d2, &d3)
                                            half += 2
                                        } else {
                                            if half & 1 == 0 {
                                                W.accumulate(block, xc, fields: 0..<16, &d0, &d1, &d2, &d3)
                                            } else {
                                                W.accumulate(block, xc, fields: 16..<32, &d0, &d1, &d2, &d3)
                                            }
                                            half += 1
                                        }
                                    }
                                    let p = (tile * gc + g) * lanes
                                    let scale = UnsafeRawPointer(sc + p).loadUnaligned(as: SIMD16<Float>.self)
                                    let zero = UnsafeRawPointer(zr + p).loadUnaligned(as: SIMD16<Float>.self)
                                    acc.addProduct(scale, ((d0 + d1) + (d2 + d3)) - zero * sums[g])
                                }
                                let r0 = tile * lanes
                                if r0 + lanes <= rows {
                                    UnsafeMutableRawPointer(y + r0).storeBytes(of: acc, as: SIMD16<Float>.self)
                                } else {
                                    for i in 0..<(rows - r0) { y[r0 + i] = acc[i] }
                                }
                            }
                        }
                        forTileHalves(run)
                    }
                }
            }
        }
    }
}

extension PackedWeights {
    /// Runs `body` over all row tiles: at once for a small product, else as two halves on the two
    /// cores (`SecondCore`, which runs them one after the other outside a decode scope). The rows
    /// are independent, so the split changes no result.
    func forTileHalves(_ body: (Range<Int>) -> Void) {
        if rows * cols < BLAS.splitGEMVWeights {
            body(0..<tiles)
        } else {
            let half = (tiles + 1) / 2
            SecondCore.shared.run { part in body(part == 0 ? 0..<half : half..<tiles) }
        }
    }
}

extension MixedPrecisionWeights {
    /// y[rows] = W · x[cols] with the low-bit part (at `activations` precision, see
    /// `PackedWeights.gemv(_:_:activations:)`) and the fp weak block. In the QEFT (tail)
    /// layout both read contiguous slices of x; otherwise (OWQ, scattered weak columns) x is first
    /// gathered into the stored column order.
    public func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, activations: ActivationPrecision = .float32) {
        let k = weakIndices.count
        withInputInStoredOrder(x, rows: 1, ld: cols) { xs, _ in
            lowBit.gemv(xs, y, activations: activations)
            guard k > 0 else { return }
            weak.storage.withUnsafeBufferPointer { w in
                BLAS.gemv(m: rows, n: k, a: w.baseAddress!, lda: k, x: xs + (cols - k), beta: 1, y: y)
            }
        }
    }
}

extension CodeWidth {
    /// d_{j mod 4} += field j · x_j for the fields in `fields` (0..<32, 0..<16 or 16..<32): four
    /// accumulators hide the FMA latency. Written out rather than looped: with 16 lanes taking two
    /// AVX2 registers LLVM stops unrolling a loop, and then each field's mask and shift is
    /// computed at run time instead of folding to a constant.
    @inline(__always)
    static func accumulate(_ block: UnsafeRawPointer, _ x: UnsafePointer<Float>, fields: Range<Int>,
                           _ d0: inout SIMD16<Float>, _ d1: inout SIMD16<Float>, _ d2: inout SIMD16<Float>, _ d3: inout SIMD16<Float>) {
        @inline(__always) func four(_ j: Int) {
            guard fields.contains(j) else { return }
            d0.addProduct(field(block, j), x[j])
            d1.addProduct(field(block, j + 1), x[j + 1])
            d2.addProduct(field(block, j + 2), x[j + 2])
            d3.addProduct(field(block, j + 3), x[j + 3])
        }
        four(0); four(4); four(8); four(12); four(16); four(20); four(24); four(28)
    }
}
