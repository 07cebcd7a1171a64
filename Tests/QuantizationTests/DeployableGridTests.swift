import Quantization
import Tensor
import XCTest

/// `QuantizedMatrix.deployable`: trained grids become fp16 grids whose deployed formats compute
/// qaft's weights bit for bit, moved by no more than fp16 rounding.
final class DeployableGridTests: XCTestCase {
    /// A (rows, cols) grid with random codes, learned-looking scales (not fp16 numbers) and zeros
    /// that are integers or fractional as asked.
    static func grid(bits: Int, fractional: Bool, rows: Int = 16, cols: Int = 64, groupSize: Int = 32, seed: UInt64 = 1) -> QuantizedMatrix {
        var rng = SeededRandom(seed: seed)
        var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        let top = UInt64(1) << UInt64(bits)
        for i in q.codes.indices { q.codes[i] = UInt8(rng.next() % top) }
        for k in q.scales.indices {
            q.scales[k] = (k % 5 == 0 ? -1 : 1) * 1e-3 * (1 + 40 * rng.nextUnitFloat())
            q.zeros[k] = fractional ? Float(top) * rng.nextUnitFloat() - 0.5 : Float(rng.next() % top)
        }
        return q
    }

    func testFractionalZerosBecomeFP16OffsetsThatQ41Reproduces() throws {
        for bits in 2...4 {
            let trained = Self.grid(bits: bits, fractional: true, seed: UInt64(bits))
            let q = trained.deployable()
            let offsets = try XCTUnwrap(q.offsets, "w\(bits)")
            XCTAssertEqual(q.deployable(), q, "w\(bits): not idempotent")
            XCTAssertEqual(q.codes, trained.codes)
            let w = q.dequantized(), w0 = trained.dequantized()
            for r in 0..<q.rows {
                for c in 0..<q.cols {
                    let k = r * q.groupCount + c / q.groupSize, d = q.scales[k], m = offsets[k], code = Float(q.codes[r * q.cols + c])
                    XCTAssertEqual(Float(Float16(d)), d)
                    XCTAssertEqual(Float(Float16(m)), m)
                    // Q4_1's dequantization, d·q + m in float32 (d·q is exact).
                    XCTAssertEqual(w[r, c].bitPattern, (d * code + m).bitPattern, "w\(bits) (\(r), \(c))")
                    // Each of d and m moved by at most half an fp16 ulp (2⁻¹¹ relative).
                    let s = trained.scales[k], z = trained.zeros[k]
                    let bound = (abs(s * code) + abs(s * z)) * 0x1p-11 + abs(w0[r, c]) * 0x1p-22
                    XCTAssertLessThanOrEqual(abs(w[r, c] - w0[r, c]), bound, "w\(bits) (\(r), \(c))")
                }
            }
            // The decode kernels fold the zero into a per-group sum: −m/d keeps their function.
            for k in q.zeros.indices { XCTAssertEqual(-q.scales[k] * q.zeros[k], offsets[k], accuracy: abs(offsets[k]) * 1e-6) }
        }
    }

    func testIntegerZerosKeepTheQuantizersRule() {
        for bits in [3, 4, 8] {
            let trained = Self.grid(bits: bits, fractional: false)
            let q = trained.deployable()
            XCTAssertNil(q.offsets)
            XCTAssertEqual(q.zeros, trained.zeros)
            for k in q.scales.indices {
                XCTAssertEqual(q.scales[k], GridParameters(scale: trained.scales[k], zero: trained.zeros[k]).deployable(bits: bits).scale)
            }
            XCTAssertEqual(q.deployable(), q)
        }
    }

    func testFractionalZerosAboveFourBitsGetFP16ScalesOnly() {
        let trained = Self.grid(bits: 6, fractional: true)
        let q = trained.deployable()
        XCTAssertNil(q.offsets, "no llama.cpp type holds a fractional zero above 4 bits")
        XCTAssertEqual(q.zeros, trained.zeros)
        XCTAssertEqual(q.scales, trained.scales.map { Float(Float16($0)) })
    }

    /// The packed decoders and the unpacked expression agree bit for bit in the offset form, and
    /// packing keeps the offsets.
    func testPackedWeightsDecodeTheOffsetForm() throws {
        for bits in 2...4 {
            let q = Self.grid(bits: bits, fractional: true, rows: 40, cols: 96).deployable()
            let p = try PackedWeights(q)
            XCTAssertEqual(p.dequantized(), q.dequantized(), "w\(bits)")
            XCTAssertEqual(p.unpacked(), q)
            // The kernels (GEMV for one row, tile GEMM for more) against the dense offset-form product.
            let layer = QuantizedLinear(p), dense = q.dequantized()
            for n in [1, 5] {
                let x = (0..<(n * q.cols)).map { Float(($0 * 37) % 11) - 5 }
                var y = [Float](repeating: 0, count: n * q.rows)
                layer.apply(x, rows: n, into: &y)
                for i in 0..<n {
                    for r in 0..<q.rows {
                        var sum = 0.0, magnitude = 0.0
                        for c in 0..<q.cols {
                            sum += Double(dense[r, c]) * Double(x[i * q.cols + c])
                            magnitude += abs(Double(dense[r, c]) * Double(x[i * q.cols + c]))
                        }
                        XCTAssertEqual(Double(y[i * q.rows + r]), sum, accuracy: 1e-5 * magnitude, "w\(bits) rows \(n)")
                    }
                }
            }
        }
    }
}
