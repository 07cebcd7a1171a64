import Models
import Quantization
import Tensor
import XCTest

/// The int8-activation decode GEMV (`PackedWeights.gemv(_:_:activations: .int8)`) against its naive
/// reference (`Int8ActivationReference`) and against float activations.
final class Int8ActivationGEMVTests: XCTestCase {
    /// SmolLM2's projection shapes at g64, and odd ones: row padding, ragged last groups (80 = 2·32
    /// + 16, 560 = 11·48 + 32) and a last group running into the chunk padding.
    let shapes: [(rows: Int, cols: Int, groupSize: Int)] = [
        (576, 576, 64), (192, 576, 64), (1536, 576, 64), (576, 1536, 64), (37, 80, 32), (19, 560, 48), (50, 112, 16),
    ]
    /// SmolLM2's head on its Q8_0 grid (8-bit codes, groups of 32): checked for 8 bits only.
    let head = (rows: 49152, cols: 576, groupSize: 32)

    func int8(_ w: PackedWeights, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: w.rows)
        w.gemv(x, &y, activations: .int8)
        return y
    }

    /// Random codes on random per-group grids (ragged last groups included): scales in [0.005,
    /// 0.015) and zero points anywhere in [0, 2^bits − 1]; with `integral`, scales 1 and whole zero points.
    func packed(_ rows: Int, _ cols: Int, bits: Int, groupSize: Int, integral: Bool = false) throws -> PackedWeights {
        var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        var rng = SeededRandom(seed: UInt64(rows * cols + bits))
        q.codes = TestData.randomCodes(rows * cols, bits: bits, seed: rng.next())
        let top = Float((1 << bits) - 1)
        q.scales = q.scales.map { _ in integral ? 1 : 0.005 + 0.01 * rng.nextUnitFloat() }
        q.zeros = q.zeros.map { _ in integral ? Float(rng.next() % UInt64(top + 1)) : top * rng.nextUnitFloat() }
        return try PackedWeights(q)
    }

    func cases(_ bits: Int) -> [(rows: Int, cols: Int, groupSize: Int)] { bits == 8 ? shapes + [head] : shapes }

    /// Scales 1, integer zero points, and per-group integer x whose max |x| is 127 (so d = 1 and
    /// q = x): the kernel's float steps then only add integers below 2²⁴, and y must equal
    /// Σ_g (Σ c·q − z·Σ q) from the reference's integer dot products exactly.
    func testIntegerPartIsExact() throws {
        for bits in [2, 3, 4, 8] {
            for (rows, cols, groupSize) in cases(bits) {
                let w = try packed(rows, cols, bits: bits, groupSize: groupSize, integral: true)
                var rng = SeededRandom(seed: UInt64(cols * bits))
                var x = (0..<cols).map { _ in Float(Int(rng.next() % 255) - 127) }
                for g in 0..<w.groupCount { x[g * groupSize] = g.isMultiple(of: 2) ? 127 : -127 }
                let a = Int8ActivationReference.quantize(x, blockSize: groupSize)
                XCTAssertEqual(a.codes.map(Float.init), x, "d = 1 keeps integer x")
                XCTAssertEqual(a.scales, [Float](repeating: 1, count: w.groupCount))
                let dots = Int8ActivationReference.integerDots(w, a.codes), gc = w.groupCount
                let terms = (0..<rows).map { r in (0..<gc).map { dots[r * gc + $0] - Int(w.zeros[r * gc + $0]) * a.sums[$0] } }
                XCTAssertLessThan(terms.map { $0.map(abs).reduce(0, +) }.max()!, 1 << 24, "every partial float sum is an exact integer")
                XCTAssertEqual(int8(w, x), terms.map { Float($0.reduce(0, +)) }, "w\(bits) \(rows)×\(cols) g\(groupSize)")
            }
        }
    }

    /// Float grids (and the head's real Q8_0 grid) and Gaussian x: the float steps agree with the reference's
    /// Double arithmetic to 1e-5 of the largest output, serially and split over the two cores.
    func testMatchesNaiveReference() throws {
        for bits in [2, 3, 4, 8] {
            for (rows, cols, groupSize) in cases(bits) {
                let w = rows == head.rows ? try PackedWeights(Q8Zero.quantize(TestData.gaussian(rows, cols, seed: 1, scale: 0.05)))
                    : try packed(rows, cols, bits: bits, groupSize: groupSize)
                let x = TestData.gaussian(1, cols, seed: UInt64(cols)).storage
                let serial = int8(w, x)
                var split = [Float](repeating: 0, count: rows)
                SecondCore.shared.splitting { w.gemv(x, &split, activations: .int8) }
                XCTAssertEqual(split, serial, "w\(bits) \(rows)×\(cols): rows are independent, so the split is exact")
                assertClose(serial, Int8ActivationReference.gemv(w, x), tolerance: 1e-5, "w\(bits) \(rows)×\(cols) g\(groupSize)")
            }
        }
    }

    /// Against float activations (the float64 reference with the dequantized weights): rounding x_j
    /// to d_g·q_j moves it by at most d_g/2, so output r moves by at most Σ_j |w_rj| · d_{g(j)}/2;
    /// 1e-5 of Σ_j |w_rj x_j| allows for the float sums.
    func testWithinActivationQuantizationBound() throws {
        for bits in [2, 3, 4] {
            for (rows, cols, groupSize) in shapes {
                let w = try packed(rows, cols, bits: bits, groupSize: groupSize)
                let x = TestData.gaussian(1, cols, seed: UInt64(bits)).storage
                let d = Int8ActivationReference.quantize(x, blockSize: groupSize).scales
                let dense = w.dequantized(), y = int8(w, x), exact = LowBitReference.gemv(w, x)
                for r in 0..<rows {
                    var bound = 0.0, magnitude = 0.0
                    for c in 0..<cols {
                        bound += Double(abs(dense[r, c])) * Double(d[c / groupSize]) / 2
                        magnitude += Double(abs(dense[r, c] * x[c]))
                    }
                    XCTAssertLessThanOrEqual(Double(abs(y[r] - exact[r])), bound + 1e-5 * magnitude, "w\(bits) \(rows)×\(cols) row \(r)")
                }
            }
        }
    }

    /// Widths without an integer kernel (5–7 bits) keep float activations.
    func testOtherWidthsKeepFloatActivations() throws {
        let w = try PackedWeights(UniformQuantizer(bits: 5).quantize(TestData.gaussian(40, 96, seed: 5, scale: 0.05), groupSize: 32))
        let x = TestData.gaussian(1, 96, seed: 6).storage
        var y = [Float](repeating: 0, count: 40)
        w.gemv(x, &y)
        XCTAssertEqual(int8(w, x), y)
    }

    /// Packed layers default to float activations for every row count; `Llama.withDecodeActivations`
    /// switches their single-row products to int8 and restores the default afterwards.
    func testPrecisionIsSelectedExplicitly() throws {
        let quantized = try ModelQuantizer.quantize(TinyModel.weights(), options: .init(method: .rtn, bits: 4, groupSize: 32), calibration: nil)
        let model = quantized.llama()
        try model.quantizeHead()
        let layer = try XCTUnwrap(model.blocks[0].up as? QuantizedLinear)
        XCTAssertEqual(layer.decodeActivations, .float32)
        let x = TestData.gaussian(3, layer.inFeatures, seed: 4).storage
        var y = [Float](repeating: 0, count: layer.outFeatures), float = y, integer = y
        layer.weights.gemv(x, &float)
        layer.weights.gemv(x, &integer, activations: .int8)
        XCTAssertNotEqual(float, integer)
        layer.apply(x, rows: 1, into: &y)
        XCTAssertEqual(y, float)
        model.withDecodeActivations(.int8) {
            layer.apply(x, rows: 1, into: &y)
            XCTAssertEqual(y, integer)
            XCTAssertEqual((model.head as? QuantizedLinear)?.decodeActivations, .int8)
            // Several rows (prefill) stay on the float GEMM whatever the setting.
            var many = [Float](repeating: 0, count: 3 * layer.outFeatures), reference = many
            layer.apply(x, rows: 3, into: &many)
            layer.weights.gemm(x, ldx: layer.inFeatures, n: 3, &reference, ldy: layer.outFeatures)
            XCTAssertEqual(many, reference)
        }
        XCTAssertEqual(layer.decodeActivations, .float32)
        XCTAssertEqual((model.head as? QuantizedLinear)?.decodeActivations, .float32)
    }

    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let scale = b.map(abs).max()! + 1e-12
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst / scale, tolerance, what, file: file, line: line)
    }
}
