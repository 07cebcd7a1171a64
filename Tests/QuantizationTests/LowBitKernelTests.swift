import Quantization
import Tensor
import TestSupport
import XCTest

final class LowBitKernelTests: XCTestCase {
    func packed(rows: Int, cols: Int, bits: Int, groupSize: Int, seed: UInt64) throws -> PackedWeights {
        let w = TestData.gaussian(rows, cols, seed: seed, scale: 0.05)
        var q = try UniformQuantizer(bits: bits).quantize(w, groupSize: cols % groupSize == 0 ? groupSize : cols)
        if cols % groupSize != 0 {  // ragged last group, as GPTQ with weak columns produces
            var r = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
            r.codes = q.codes
            for row in 0..<rows { for g in 0..<r.groupCount { r.setParameters(row: row, group: g, q.parameters(row: row, group: 0)) } }
            q = r
        }
        return try PackedWeights(q)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, bound: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        let scale = b.map(abs).max()! + 1e-12
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst / scale, bound, what, file: file, line: line)
    }

    /// Real SmolLM2 shapes plus odd ones (ragged last group, row padding).
    let shapes = [(576, 576), (1536, 576), (576, 1536), (37, 80), (19, 560)]

    func testGEMVMatchesReference() throws {
        for bits in 2...8 {
            for (rows, cols) in shapes {
                let w = try packed(rows: rows, cols: cols, bits: bits, groupSize: 48, seed: UInt64(rows + bits))
                let x = TestData.gaussian(1, cols, seed: 7).storage
                var y = [Float](repeating: 0, count: rows)
                w.gemv(x, &y)
                assertClose(y, LowBitReference.gemv(w, x), "gemv w\(bits) \(rows)×\(cols)")
            }
        }
    }

    /// Inside a decode scope a large product splits its tiles over the two cores: same result.
    func testSplitGEMVMatchesReference() throws {
        for bits in [2, 3, 4] {
            let rows = 1000, cols = 576  // 63 tiles: the halves differ by one
            XCTAssertGreaterThanOrEqual(rows * cols, BLAS.splitGEMVWeights)
            let w = try packed(rows: rows, cols: cols, bits: bits, groupSize: 64, seed: UInt64(bits))
            let x = TestData.gaussian(1, cols, seed: 7).storage
            var serial = [Float](repeating: 0, count: rows), split = serial
            w.gemv(x, &serial)
            SecondCore.shared.splitting { w.gemv(x, &split) }
            XCTAssertEqual(split, serial, "w\(bits): rows are independent, so the split is exact")
            assertClose(split, LowBitReference.gemv(w, x), "split gemv w\(bits)")
        }
    }

    func testGEMMMatchesReference() throws {
        for bits in 2...8 {
            for (rows, cols) in shapes {
                let w = try packed(rows: rows, cols: cols, bits: bits, groupSize: 16, seed: UInt64(rows * bits))
                let n = 9
                let x = TestData.gaussian(n, cols, seed: 8)
                var y = [Float](repeating: 0, count: n * rows)
                w.gemm(x.storage, ldx: cols, n: n, &y, ldy: rows)
                assertClose(y, LowBitReference.gemm(w, x).storage, "gemm w\(bits) \(rows)×\(cols)")
            }
        }
    }

    /// The input gradient through a frozen packed layer, overwriting and accumulating.
    func testTransposedGEMMMatchesReference() throws {
        for bits in [2, 3, 4, 8] {
            for (rows, cols) in shapes {
                let w = try packed(rows: rows, cols: cols, bits: bits, groupSize: 16, seed: UInt64(rows + 3 * bits))
                let n = 5
                let dy = TestData.gaussian(n, rows, seed: 9)
                let reference = LowBitReference.gemmTransposed(w, dy).storage
                var dx = [Float](repeating: 7, count: n * cols)
                QuantizedLinear(w).applyTransposed(dy.storage, rows: n, into: &dx, accumulate: false)
                assertClose(dx, reference, "dx w\(bits) \(rows)×\(cols)")
                let base = TestData.gaussian(n, cols, seed: 10).storage
                var summed = base
                w.gemmTransposed(dy.storage, lddy: rows, n: n, &summed, lddx: cols, accumulate: true)
                assertClose(zip(summed, base).map { $0 - $1 }, reference, "dx += w\(bits) \(rows)×\(cols)")
            }
        }
    }

    /// In a bf16 scope both products decode the packed weight straight to bf16 tiles: bit for bit
    /// the dense bf16 products of the dequantized weight (which round that weight per call), and
    /// not the fp32 products.
    func testBF16ProductsEqualTheDenseBF16Products() throws {
        try requireBF16()
        for bits in [2, 3, 4, 8] {
            for (rows, cols) in shapes {
                let w = try packed(rows: rows, cols: cols, bits: bits, groupSize: 16, seed: UInt64(rows + 5 * bits))
                let dense = w.dequantized(), n = 128
                let x = TestData.gaussian(n, cols, seed: 14), dy = TestData.gaussian(n, rows, seed: 15)
                let base = TestData.gaussian(n, cols, seed: 16).storage
                var y = [Float](repeating: 0, count: n * rows), yDense = y, yFP32 = y
                var dx = [Float](repeating: 7, count: n * cols), dxDense = dx, dxSum = base, dxSumDense = base
                ComputePrecision.with(.bf16) {
                    XCTAssertTrue(BF16.applies(m: n, n: rows, k: cols), "\(rows)×\(cols) must be a bf16 product")
                    w.gemm(x.storage, ldx: cols, n: n, &y, ldy: rows)
                    w.gemmTransposed(dy.storage, lddy: rows, n: n, &dx, lddx: cols, accumulate: false)
                    w.gemmTransposed(dy.storage, lddy: rows, n: n, &dxSum, lddx: cols, accumulate: true)
                    BLAS.gemm(transB: true, m: n, n: rows, k: cols, a: x.storage, lda: cols, b: dense.storage, ldb: cols, c: &yDense, ldc: rows)
                    BLAS.gemm(m: n, n: cols, k: rows, a: dy.storage, lda: rows, b: dense.storage, ldb: cols, c: &dxDense, ldc: cols)
                    BLAS.gemm(m: n, n: cols, k: rows, a: dy.storage, lda: rows, b: dense.storage, ldb: cols, beta: 1, c: &dxSumDense, ldc: cols)
                }
                w.gemm(x.storage, ldx: cols, n: n, &yFP32, ldy: rows)
                let what = "w\(bits) \(rows)×\(cols)"
                XCTAssertEqual(y.map(\.bitPattern), yDense.map(\.bitPattern), "y " + what)
                XCTAssertEqual(dx.map(\.bitPattern), dxDense.map(\.bitPattern), "dx " + what)
                XCTAssertEqual(dxSum.map(\.bitPattern), dxSumDense.map(\.bitPattern), "dx += " + what)
                XCTAssertNotEqual(y, yFP32, "fp32 outside the scope " + what)
                assertClose(yFP32, y, what, bound: 1e-2)
            }
        }
    }

    func testMixedPrecisionKernelsMatchReference() throws {
        for (rows, cols) in [(576, 576), (1536, 576), (576, 1536)] {
            let k = 16
            let tail = Array((cols - k)..<cols)
            var rng = SeededRandom(seed: UInt64(cols))
            let scattered = Array(Set((0..<40).map { _ in Int(rng.next() % UInt64(cols)) }).prefix(k)).sorted()
            for weak in [tail, scattered] {
                let low = try packed(rows: rows, cols: cols - k, bits: 4, groupSize: 64, seed: 11)
                let m = try MixedPrecisionWeights(lowBit: low, weak: TestData.gaussian(rows, k, seed: 12, scale: 0.1), weakIndices: weak)
                XCTAssertEqual(m.isTail, weak == tail)
                let x = TestData.gaussian(5, cols, seed: 13)
                var y = [Float](repeating: 0, count: rows)
                m.gemv(x.storage, &y)
                assertClose(y, LowBitReference.gemv(m, x.row(0)), "mixed gemv \(rows)×\(cols) tail=\(m.isTail)")
                var ym = [Float](repeating: 0, count: 5 * rows)
                m.gemm(x.storage, ldx: cols, n: 5, &ym, ldy: rows)
                assertClose(ym, LowBitReference.gemm(m, x).storage, "mixed gemm \(rows)×\(cols) tail=\(m.isTail)")
            }
        }
    }
}
