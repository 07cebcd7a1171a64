import Quantization
import Tensor
import XCTest

final class PackedWeightsTests: XCTestCase {
    func quantized(rows: Int, cols: Int, bits: Int, groupSize: Int, seed: UInt64) -> QuantizedMatrix {
        var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
        q.codes = TestData.randomCodes(rows * cols, bits: bits, seed: seed)
        var rng = SeededRandom(seed: seed + 1)
        q.scales = q.scales.map { _ in 0.01 + rng.nextUnitFloat() * 0.05 }
        q.zeros = q.zeros.map { _ in Float(rng.next() % UInt64(1 << bits)) }
        return q
    }

    func testPackUnpackRoundTrip() throws {
        for bits in 2...8 {
            for (rows, cols) in [(3, 32), (5, 97), (2, 576), (7, 48), (33, 64)] {
                let q = quantized(rows: rows, cols: cols, bits: bits, groupSize: 16, seed: UInt64(bits * 1000 + cols))
                let p = try PackedWeights(q)
                XCTAssertEqual(p.unpacked(), q, "w\(bits) \(rows)×\(cols)")
                XCTAssertEqual(p.words.count, (rows + 15) / 16 * 16 * ((cols + 31) / 32) * bits)
                // Fast (SIMD) and scalar dequantization agree exactly.
                XCTAssertEqual(p.dequantized(), q.dequantized(), "w\(bits) \(rows)×\(cols)")
            }
        }
    }

    func testEveryWidthIsDense() throws {
        for bits in 2...8 {
            let p = try PackedWeights(quantized(rows: 16, cols: 64, bits: bits, groupSize: 32, seed: 9))
            XCTAssertEqual(p.words.count * 32, 16 * 64 * bits, "w\(bits)")
        }
    }

    func testPackedOptionsAreValidated() {
        XCTAssertThrowsError(try PackedWeights(quantized(rows: 2, cols: 64, bits: 1, groupSize: 32, seed: 1))) {
            XCTAssertTrue("\($0)".contains("'bits'"), "\($0)")
        }
        XCTAssertThrowsError(try PackedWeights(quantized(rows: 2, cols: 64, bits: 4, groupSize: 24, seed: 1))) {
            XCTAssertTrue("\($0)".contains("'groupSize'"), "\($0)")
        }
    }
}
