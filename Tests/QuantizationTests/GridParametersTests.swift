import Quantization
import Tensor
import XCTest

/// Deployable grid parameters: every deployed format's fp16 arithmetic gives qaft's weights bit for
/// bit, and the scale moves by no more than the stated bound.
final class GridParametersTests: XCTestCase {
    /// Random parameters over fp16's normal and subnormal ranges, integer and fractional zeros.
    static func samples(bits: Int, count: Int = 4000) -> [(GridParameters, integerZero: Bool)] {
        var rng = SeededRandom(seed: UInt64(bits))
        return (0..<count).map { i in
            let exponent = -22 + Int(rng.next() % 22)  // 2^−22 … 2^−1: subnormal fp16 products included
            let scale = Float(sign: i % 7 == 0 ? .minus : .plus, exponent: exponent, significand: 1 + rng.nextUnitFloat())
            let top = Float((1 << bits) - 1)
            let integerZero = i % 2 == 0
            let zero = integerZero ? Float(rng.next() % UInt64(top + 1)) : -2 + (top + 4) * rng.nextUnitFloat()
            return (GridParameters(scale: scale, zero: zero), integerZero)
        }
    }

    func testDeployableIsIdempotentAndMovesTheScaleByTheBound() {
        for bits in 2...8 {
            for (p, integerZero) in Self.samples(bits: bits) {
                let d = p.deployable(bits: bits)
                XCTAssertEqual(d.deployable(bits: bits), d, "w\(bits) \(p)")
                XCTAssertEqual(d.zero, p.zero)
                let p16 = integerZero && bits <= 4 ? 11 - bits : 11
                // Less than one quantum at p significant bits (fp16's subnormal quantum below 2^−14), upwards.
                let bound = max(abs(p.scale) * Float(sign: .plus, exponent: 1 - p16, significand: 1),
                                Float(sign: .plus, exponent: -13 - p16, significand: 1))
                XCTAssertLessThan(abs(d.scale) - abs(p.scale), bound, "w\(bits) \(p) → \(d)")
                XCTAssertGreaterThanOrEqual(abs(d.scale), abs(p.scale), "w\(bits) \(p) → \(d): the grid shrank")
                XCTAssertEqual(d.scale.sign, p.scale.sign)
            }
        }
    }

    /// Bit for bit, except that a negative scale's weight at code = zero may be −0 in one form and +0
    /// in another (the same weight).
    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a == 0 && b == 0) }

    /// With an integer zero, llama.cpp's Q4_0/Q8_0 d·(q − z), Q4_1 d·q + m (≤ 4 bits) and GPTQ's
    /// fp16 s·(q − z) (≤ 4 bits) reproduce the grid's float32 weights for every code; with a
    /// fractional zero, at least d is exact.
    func testDeployedFormatsComputeTheGridsValues() {
        for bits in 2...8 {
            for (p, integerZero) in Self.samples(bits: bits, count: 1000) {
                let d = p.deployable(bits: bits)
                let half = Float(Float16(d.scale))
                XCTAssertEqual(half, d.scale, "w\(bits) \(d): scale is not an fp16 number")
                guard integerZero else { continue }
                let m = Float(Float16(-d.scale * d.zero))
                for code in 0..<(1 << bits) {
                    let c = Float(code), value = d.scale * (c - d.zero)
                    XCTAssertTrue(Self.same(half * (c - d.zero), value), "Q4_0/Q8_0 w\(bits) \(d) code \(code)")
                    guard bits <= 4 else { continue }
                    XCTAssertTrue(Self.same(half * c + m, value), "Q4_1 w\(bits) \(d) code \(code)")
                    let gptq = Float(Float16(Float16(d.scale) * Float16(c - d.zero)))
                    XCTAssertTrue(Self.same(gptq, value), "GPTQ fp16 w\(bits) \(d) code \(code)")
                }
            }
        }
    }

    /// Whatever the search or grid, the quantizer hands out deployable parameters, and its codes
    /// are the nearest points of the grid as deployed.
    func testQuantizerGridsAreDeployable() throws {
        let w = TestData.gaussian(16, 128, seed: 3)
        for grid in [UniformQuantizer.Grid.asymmetric, .affine, .symmetric] {
            for search in [UniformQuantizer.RangeSearch.minMax, .owq] where !(grid == .affine && search != .minMax) {
                for bits in [2, 3, 4, 8] {
                    let quantizer = try UniformQuantizer(bits: bits, grid: grid, search: search)
                    let q = try quantizer.quantize(w, groupSize: 32)
                    for r in 0..<q.rows {
                        for g in 0..<q.groupCount {
                            let p = q.parameters(row: r, group: g)
                            XCTAssertEqual(p.deployable(bits: bits), p, "\(grid) \(search) w\(bits)")
                        }
                    }
                }
            }
        }
    }
}
