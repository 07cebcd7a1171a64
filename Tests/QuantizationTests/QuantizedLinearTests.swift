import Models
import Quantization
import Tensor
import XCTest

final class QuantizedLinearTests: XCTestCase {
    func assertRelativelyClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let scale = b.map(abs).max()! + 1e-12
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst / scale, 1e-5, what, file: file, line: line)
    }

    /// The quantized layers compute what a dense layer holding their dequantized weights computes,
    /// for one row (the GEMV path) and several (the GEMM path), every width, plain and mixed.
    func testQuantizedLayersMatchDequantizedDense() throws {
        for bits in 2...8 {
            for (rows, cols) in [(192, 576), (50, 96)] {
                let w = TestData.gaussian(rows, cols, seed: UInt64(bits * 100 + rows), scale: 0.05)
                let q = try UniformQuantizer(bits: bits).quantize(w, groupSize: 32)
                let packed = try PackedWeights(q)
                // GPTQ with H = I gives the real mixed layout: a ragged last group of the in − k columns.
                let k = 8
                let weak = Array(stride(from: 3, to: cols, by: cols / k).prefix(k))
                let identity = (0..<(cols * cols)).map { $0 % (cols + 1) == 0 ? 1.0 : 0.0 }
                let mixed = try GPTQ.quantize(weight: w, hessian: identity, quantizer: UniformQuantizer(bits: bits),
                                              options: .init(groupSize: 32), weakColumns: weak).packed()
                for layer in [QuantizedLayer.packed(packed), .mixed(mixed)] {
                    let dense = DenseLinear(layer.dequantized()), fast = layer.linear()
                    XCTAssertEqual(fast.inFeatures, cols)
                    XCTAssertEqual(fast.outFeatures, rows)
                    for n in [1, 7] {
                        let x = TestData.gaussian(n, cols, seed: UInt64(n)).storage
                        var y = [Float](repeating: 0, count: n * rows), yd = y
                        fast.apply(x, rows: n, into: &y)
                        dense.apply(x, rows: n, into: &yd)
                        assertRelativelyClose(y, yd, "w\(bits) \(rows)×\(cols) \(layer.weakIndices.isEmpty ? "packed" : "mixed") n=\(n)")
                    }
                }
            }
        }
    }
}
