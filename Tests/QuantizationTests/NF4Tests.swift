import Quantization
import XCTest

final class NF4Tests: XCTestCase {
    /// bitsandbytes/functional.py `get_4bit_type("nf4")` (github.com/bitsandbytes-foundation/bitsandbytes),
    /// float64 literals as printed there; each must be the float32 nearest to them.
    func testCodebookMatchesBitsandbytes() {
        let bnb: [Double] = [
            -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
            -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
            0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
            0.7229568362236023, 1.0,
        ]
        XCTAssertEqual(NF4Tensor.codebook, bnb.map { Float($0) })
        XCTAssertEqual(NF4Tensor.codebook.count, 16)
    }

    func testRoundTripPicksNearestCode() {
        let w = TestData.gaussian(1, 64 * 7 + 13, seed: 5).storage
        let t = NF4Tensor(quantizing: w)
        let deq = t.dequantized()
        let scales = t.absmax.values()
        for i in w.indices {
            let s = scales[i / 64]
            let chosen = abs(w[i] - deq[i])
            for c in NF4Tensor.codebook {
                XCTAssertLessThanOrEqual(chosen, abs(w[i] - c * s) * (1 + 1e-6) + 1e-7, "weight \(i)")
            }
            // The block's absmax itself is represented exactly (code ±1).
        }
        for b in scales.indices {
            let block = w[(b * 64)..<min(w.count, (b + 1) * 64)]
            XCTAssertEqual(scales[b], block.map(abs).max()!)
        }
    }

    func testDoubleQuantizationErrorBound() {
        let w = TestData.gaussian(1, 64 * 600, seed: 6, scale: 0.02).storage
        let t = NF4Tensor(quantizing: w, doubleQuantize: true)
        let plain = NF4Tensor(quantizing: w).absmax.values()
        guard case .doubleQuantized(let dq) = t.absmax else { return XCTFail("expected double quantization") }
        XCTAssertEqual(dq.codes.count, 600)
        XCTAssertEqual(dq.blockAbsmax.count, 3)
        let map = DoubleQuantizedScales.dynamicMap
        XCTAssertEqual(map.count, 256)
        // bitsandbytes appends +1 but not −1: the most negative entry is −(0.9859375 + 1)/2.
        XCTAssertEqual(map.first, -0.99296875)
        XCTAssertEqual(map.last, 1)
        XCTAssertEqual(map.filter { $0 == 0 }.count, 1)
        let maxGap = zip(map.dropFirst(), map).map { $0 - $1 }.max()!
        let restored = dq.dequantized()
        for i in plain.indices {
            let bound = dq.blockAbsmax[i / 256] * maxGap / 2
            XCTAssertLessThanOrEqual(abs(restored[i] - plain[i]), bound * (1 + 1e-5), "absmax \(i)")
        }
        // The NF4 codes do not depend on how the absmax is stored.
        XCTAssertEqual(t.packed, NF4Tensor(quantizing: w).packed)
    }
}
