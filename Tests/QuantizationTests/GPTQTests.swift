import Quantization
import Tensor
import XCTest

final class GPTQTests: XCTestCase {
    /// Correlated inputs with a few outlier channels, like LLM activations.
    func correlatedInputs(tokens: Int, dim: Int, seed: UInt64) -> Matrix {
        let z = TestData.gaussian(tokens, dim, seed: seed)
        var mix = TestData.gaussian(dim, dim, seed: seed + 1, scale: 0.3)
        for i in 0..<dim { mix[i, i] += 1 }
        var x = [Float](repeating: 0, count: tokens * dim)
        BLAS.gemm(m: tokens, n: dim, k: dim, a: z.storage, lda: dim, b: mix.storage, ldb: dim, c: &x, ldc: dim)
        for t in 0..<tokens { for c in stride(from: 3, to: dim, by: 37) { x[t * dim + c] *= 10 } }
        return Matrix(rows: tokens, cols: dim, storage: x)
    }

    func hessian(_ x: Matrix, batch: Int = 64) -> [Double] {
        var acc = HessianAccumulator(dimension: x.cols)
        x.storage.withUnsafeBufferPointer { p in
            for r0 in stride(from: 0, to: x.rows, by: batch) {
                acc.add(rows: p.baseAddress! + r0 * x.cols, count: min(batch, x.rows - r0))
            }
        }
        return acc.hessian()
    }

    func testHessianAccumulatorMatchesDirectProduct() {
        let x = correlatedInputs(tokens: 100, dim: 24, seed: 1)
        let h = hessian(x, batch: 30)  // 4 calls = 4 samples
        for i in 0..<24 {
            for j in 0..<24 {
                let direct = (0..<100).reduce(0.0) { $0 + Double(x[$1, i]) * Double(x[$1, j]) } * 2 / 4
                XCTAssertEqual(h[i * 24 + j], direct, accuracy: 1e-4 * abs(direct) + 1e-6)
            }
        }
    }

    func testBeatsRoundToNearestOnOutputError() throws {
        let w = TestData.gaussian(96, 256, seed: 2, scale: 0.05)
        let x = correlatedInputs(tokens: 512, dim: 256, seed: 3)
        let h = hessian(x)
        for bits in [4, 3] {
            let q = try UniformQuantizer(bits: bits)
            let rtn = try q.fakeQuantize(w, groupSize: 64)
            let gptq = try GPTQ.quantize(weight: w, hessian: h, quantizer: q, options: .init(groupSize: 64)).dequantized()
            let eR = TestData.outputError(w, rtn, x), eG = TestData.outputError(w, gptq, x)
            XCTAssertLessThan(eG, 0.8 * eR, "w\(bits) g64: GPTQ \(eG) vs RTN \(eR)")
            let actOrder = try GPTQ.quantize(weight: w, hessian: h, quantizer: q, options: .init(groupSize: 64, actOrder: true))
            XCTAssertLessThan(TestData.outputError(w, actOrder.dequantized(), x), eR, "act-order w\(bits)")
        }
    }

    /// Our GPTQ against the NumPy transcription of the reference (Tests/Fixtures/quantization).
    func testMatchesNumPyReference() throws {
        for name in ["gptq_w4g16_minmax", "gptq_w3g16_owq_weak"] {
            let f = try TestData.json(name)
            let rows = f["rows"] as! Int, cols = f["cols"] as! Int, tokens = f["tokens"] as! Int
            let floats = { (key: String) in (f[key] as! [NSNumber]).map { $0.floatValue } }
            let w = Matrix(rows: rows, cols: cols, storage: floats("W"))
            let x = Matrix(rows: tokens, cols: cols, storage: floats("X"))
            let quantizer = try UniformQuantizer(bits: f["bits"] as! Int, search: (f["lp"] as! Bool) ? .owq : .minMax)
            let weak = f["weak"] as! [Int]
            let r = try GPTQ.quantize(weight: w, hessian: hessian(x), quantizer: quantizer,
                                      options: .init(groupSize: .some(f["group"] as! Int), blockSize: f["blocksize"] as! Int),
                                      weakColumns: weak)
            let codes = (f["codes"] as! [Int]).map(UInt8.init)
            let same = zip(r.quantized.codes, codes).filter { $0 == $1 }.count
            XCTAssertGreaterThanOrEqual(Double(same) / Double(codes.count), 0.99, "\(name): \(same)/\(codes.count) codes equal")
            print("\(name): \(same)/\(codes.count) codes equal to NumPy")
            let scales = floats("scales"), zeros = floats("zeros")
            var sameParams = 0
            for i in scales.indices {
                let closeScale = abs(r.quantized.scales[i] - scales[i]) <= 1e-4 * scales[i]
                if closeScale && r.quantized.zeros[i] == zeros[i] { sameParams += 1 }
            }
            XCTAssertGreaterThanOrEqual(Double(sameParams) / Double(scales.count), 0.99, "\(name) group parameters")
            let weakBlock = floats("weakBlock")
            XCTAssertEqual(r.weak.storage.count, weakBlock.count)
            for (a, b) in zip(r.weak.storage, weakBlock) { XCTAssertEqual(a, b, accuracy: 2e-3 * (abs(b) + 0.01)) }
            if !weak.isEmpty {
                // The weak columns absorbed error compensation: they differ from the original weights.
                XCTAssertNotEqual(r.weak[0, 0], w[0, weak[0]])
                let m = try r.packed()
                XCTAssertEqual(m.dequantized(), r.dequantized())
            }
        }
    }

    func testInvalidOptions() {
        let w = Matrix(zeros: 4, 32)
        let h = [Double](repeating: 0, count: 32 * 32)
        let q = try! UniformQuantizer(bits: 4)
        XCTAssertThrowsError(try GPTQ.quantize(weight: w, hessian: [1], quantizer: q, options: .init(groupSize: 16))) {
            XCTAssertEqual($0 as? QuantizationError, .shapeMismatch(what: "Hessian", expected: [32, 32], found: [1]))
        }
        XCTAssertThrowsError(try GPTQ.quantize(weight: w, hessian: h, quantizer: q, options: .init(groupSize: 16), weakColumns: [5, 2])) {
            XCTAssertTrue("\($0)".contains("'weakColumns'"), "\($0)")
        }
        XCTAssertThrowsError(try GPTQ.quantize(weight: w, hessian: h, quantizer: q, options: .init(groupSize: 16, actOrder: true), weakColumns: [1])) {
            XCTAssertTrue("\($0)".contains("'actOrder'"), "\($0)")
        }
    }
}
