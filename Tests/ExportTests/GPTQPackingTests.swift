import XCTest
@testable import Export
import Quantization

/// GPTQ's int32 packing against a naive bit-by-bit reference, and against the layout GPTQModel's
/// unpacker reads (its shift table puts 3-bit value 10 across words 0–1 and value 21 across 1–2).
final class GPTQPackingTests: XCTestCase {
    /// Reference: write each value's bits one at a time into a bit array, then cut it into words.
    private func naivePack(_ values: [UInt32], bits: Int) -> [UInt32] {
        var stream = [Bool]()
        for v in values { for b in 0..<bits { stream.append((v >> UInt32(b)) & 1 == 1) } }
        return stride(from: 0, to: stream.count, by: 32).map { start in
            (0..<32).reduce(UInt32(0)) { $0 | (stream[start + $1] ? UInt32(1) << UInt32($1) : 0) }
        }
    }

    func testPackMatchesNaiveReferenceAndRoundTrips() {
        var rng = SystemRandomNumberGenerator()
        for bits in GPTQPacking.supportedBits {
            for count in [32, 64, 96, 256] {
                let values = (0..<count).map { _ in UInt32.random(in: 0..<(1 << UInt32(bits)), using: &rng) }
                let packed = GPTQPacking.pack(count: count, bits: bits) { values[$0] }
                XCTAssertEqual(packed, naivePack(values, bits: bits), "\(bits)-bit, \(count) values")
                XCTAssertEqual(packed.count, count * bits / 32)
                XCTAssertEqual(GPTQPacking.unpack(packed, count: count, bits: bits), values, "\(bits)-bit round trip")
            }
        }
    }

    func testKnownWords() {
        // 4-bit: eight nibbles per word, value k in bits 4k…4k+3.
        XCTAssertEqual(GPTQPacking.pack(count: 8, bits: 4) { UInt32($0) }, [0x7654_3210])
        // 8-bit: four bytes per word.
        XCTAssertEqual(GPTQPacking.pack(count: 4, bits: 8) { UInt32($0 + 1) }, [0x0403_0201])
        // 2-bit: sixteen values per word.
        XCTAssertEqual(GPTQPacking.pack(count: 16, bits: 2) { $0 == 15 ? 3 : 0 }, [0xC000_0000])
        // 3-bit: value 10 = 0b100 puts its high bit in bit 0 of word 1; value 21 = 0b011 puts bit 0
        // in bit 31 of word 1 and bit 1 in bit 0 of word 2; value 31 = 7 fills bits 29…31 of word 2.
        let v: (Int) -> UInt32 = { [10: 4, 21: 3, 31: 7][$0] ?? 0 }
        XCTAssertEqual(GPTQPacking.pack(count: 32, bits: 3, v), [0, 0x8000_0001, 0xE000_0001])
    }

    func testQWeightAndQZerosLayout() {
        // 2 output rows × 32 inputs at 4 bits: qweight is [4, 2], column r holding row r's codes.
        var codes = [UInt8](repeating: 0, count: 64)
        for c in 0..<32 { codes[c] = UInt8(c % 16); codes[32 + c] = UInt8(15 - c % 16) }
        let qw = GPTQPacking.qweight(codes: codes, rows: 2, cols: 32, bits: 4)
        XCTAssertEqual(qw.count, 8)
        XCTAssertEqual(UInt32(bitPattern: qw[0]), 0x7654_3210)  // [0, 0]: row 0, inputs 0…7
        XCTAssertEqual(UInt32(bitPattern: qw[1]), 0x89AB_CDEF)  // [0, 1]: row 1, inputs 0…7
        XCTAssertEqual(UInt32(bitPattern: qw[2]), 0xFEDC_BA98)  // [1, 0]: row 0, inputs 8…15
        // qzeros packs along the output dimension, one row of words per group.
        let zeros = (0..<64).map { UInt32($0 % 8) }
        let qz = GPTQPacking.qzeros(zeros, groups: 2, out: 32, bits: 3)
        XCTAssertEqual(qz.count, 6)
        XCTAssertEqual(GPTQPacking.unpack(qz[3..<6].map { UInt32(bitPattern: $0) }, count: 32, bits: 3), Array(zeros[32..<64]))
    }
}
