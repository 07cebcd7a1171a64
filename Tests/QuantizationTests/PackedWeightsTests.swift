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

    func testBlobRoundTrip() throws {
        for bits in 2...8 {
            let p = try PackedWeights(quantized(rows: 6, cols: 80, bits: bits, groupSize: 32, seed: UInt64(bits)))
            XCTAssertEqual(try WeightBlob.decodePacked(WeightBlob.encode(p, precision: .float32)), p)
            let half = try WeightBlob.decodePacked(WeightBlob.encode(p, precision: .float16))
            XCTAssertEqual(half.words, p.words)
            XCTAssertEqual(half.scales, p.scales.map { Float(Float16($0)) })
            XCTAssertEqual(half.zeros, p.zeros)  // integer zero points are exact in fp16
            let m = try MixedPrecisionWeights(lowBit: p, weak: TestData.gaussian(6, 3, seed: 4), weakIndices: [2, 50, 81])
            XCTAssertEqual(try WeightBlob.decodeMixed(WeightBlob.encode(m, precision: .float32)), m)
        }
    }

    func testCorruptBlobsAreRejectedPrecisely() throws {
        let q = quantized(rows: 4, cols: 40, bits: 3, groupSize: 32, seed: 3)
        let p = try PackedWeights(q)
        let blob = WeightBlob.encode(p)
        func expect(_ bytes: [UInt8], _ expected: QuantizationError, line: UInt = #line) {
            XCTAssertThrowsError(try WeightBlob.decodePacked(bytes), line: line) {
                XCTAssertEqual($0 as? QuantizationError, expected, line: line)
            }
        }
        expect(Array(blob.prefix(blob.count - 3)),
               .truncated(what: "zeros", offset: blob.count - 16, needed: 16, available: 13))
        var bad = blob; bad[0] = 0x58
        expect(bad, .badMagic(expected: "QAFTPKW1", found: "58414654504b5731"))
        bad = blob; bad[8] = 1
        expect(bad, .unsupportedVersion(what: "packed weights", version: 1))
        bad = blob; bad[12] = 9
        expect(bad, .corrupt(field: "bits", offset: 12, reason: "9: packed storage holds 2…8 bits"))
        bad = blob; bad[28] = 24
        expect(bad, .corrupt(field: "parameterWidth", offset: 28, reason: "24 is neither 16 nor 32"))
        // cols 40 → 33: the codes for columns 33…39 become padding, which must be zero. The first
        // nonzero one (row-major) is reported at its word: 32-byte header, block (tile 0, chunk 1)
        // starts at word 3·16, code j of the chunk is in word ⌊3j/32⌋ of its lane.
        bad = blob; bad[20] = 33
        let (r, c) = (0..<4).lazy.flatMap { r in (33..<40).map { (r, $0) } }.first { q.codes[$0.0 * 40 + $0.1] != 0 }!
        expect(bad, .corrupt(field: "codes", offset: 32 + 4 * (48 + r + 16 * (3 * (c - 32) / 32)),
                             reason: "padding code at row \(r), column \(c) is not zero"))
        expect(blob + [0], .corrupt(field: "end", offset: blob.count, reason: "1 unexpected trailing bytes"))

        let m = try MixedPrecisionWeights(lowBit: p, weak: TestData.gaussian(4, 2, seed: 4), weakIndices: [0, 41])
        let mb = WeightBlob.encode(m)
        var swapped = mb
        let idx = mb.count - 4 * 8 - 8
        swapped[idx] = 41; swapped[idx + 4] = 0  // indices no longer ascending
        XCTAssertThrowsError(try WeightBlob.decodeMixed(swapped)) {
            XCTAssertEqual($0 as? QuantizationError,
                           .corrupt(field: "weakIndices", offset: idx, reason: "[1] = 0: must be strictly ascending input columns in 0..<42"))
        }
        XCTAssertThrowsError(try WeightBlob.decodeMixed(Array(mb.prefix(mb.count - 1)))) {
            guard case .truncated(let what, _, _, _)? = $0 as? QuantizationError else { return XCTFail("\($0)") }
            XCTAssertTrue(what.hasPrefix("weak block"))
        }
    }
}
