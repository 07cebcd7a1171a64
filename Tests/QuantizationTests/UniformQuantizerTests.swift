import Quantization
import Tensor
import XCTest

final class UniformQuantizerTests: XCTestCase {
    /// Inside the grid's range every weight is within half a step of its dequantized value.
    func testRoundTripErrorWithinHalfStep() throws {
        let w = TestData.gaussian(8, 96, seed: 1)
        for grid in [UniformQuantizer.Grid.asymmetric, .affine, .symmetric] {
            for search in [UniformQuantizer.RangeSearch.minMax, .owq] where !(grid == .affine && search != .minMax) {
                for bits in 2...8 {
                    for g in [16, 32, 48, 96] {
                        let quantizer = try UniformQuantizer(bits: bits, grid: grid, search: search)
                        let q = try quantizer.quantize(w, groupSize: g)
                        let deq = q.dequantized()
                        for r in 0..<w.rows {
                            for c in 0..<w.cols {
                                let p = q.parameters(row: r, group: c / g)
                                let lo = p.scale * (0 - p.zero), hi = p.scale * (Float(quantizer.maxCode) - p.zero)
                                XCTAssertTrue((0...quantizer.maxCode).contains(Int(q.codes[r * w.cols + c])))
                                guard w[r, c] >= lo, w[r, c] <= hi else { continue }
                                XCTAssertLessThanOrEqual(abs(w[r, c] - deq[r, c]), p.scale / 2 * (1 + 1e-5),
                                                         "\(grid) \(search) w\(bits) g\(g) (\(r),\(c))")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The affine and symmetric min-max grids never clip; GPTQ's asymmetric grid rounds its zero
    /// point to an integer, which can leave an extreme weight up to half a step outside.
    func testMinMaxCoversTheGroup() throws {
        let w = TestData.gaussian(4, 64, seed: 2)
        for grid in [UniformQuantizer.Grid.asymmetric, .affine, .symmetric] {
            let quantizer = try UniformQuantizer(bits: 3, grid: grid)
            let q = try quantizer.quantize(w, groupSize: 32)
            for r in 0..<4 {
                for c in 0..<64 {
                    let p = q.parameters(row: r, group: c / 32)
                    let slack = (grid == .asymmetric ? p.scale / 2 : 0) + 1e-6 * p.scale * 8
                    XCTAssertGreaterThanOrEqual(w[r, c], p.scale * -p.zero - slack, "\(grid)")
                    XCTAssertLessThanOrEqual(w[r, c], p.scale * (7 - p.zero) + slack, "\(grid)")
                }
            }
            if grid == .symmetric { XCTAssertEqual(q.zeros[0], 4) }
            if grid == .asymmetric { XCTAssertEqual(q.zeros[0], q.zeros[0].rounded()) }
        }
    }

    /// The L2.4 search never does worse than min-max under its own objective.
    func testLpSearchBeatsMinMaxOnItsObjective() throws {
        let w = TestData.gaussian(16, 64, seed: 3)
        func lp(_ q: Matrix) -> Double { zip(w.storage, q.storage).reduce(0) { $0 + pow(Double(abs($1.0 - $1.1)), 2.4) } }
        for bits in [2, 3, 4] {
            let mm = try UniformQuantizer(bits: bits).fakeQuantize(w, groupSize: 32)
            let ls = try UniformQuantizer(bits: bits, search: .owq).fakeQuantize(w, groupSize: 32)
            XCTAssertLessThan(lp(ls), lp(mm), "w\(bits)")
        }
    }

    /// Q8_0: codes −127…127 around the zero point 128, |w − ŵ| ≤ d/2 with d = fp16(absmax / 127),
    /// and a group's absmax is represented exactly when d·127 is (it is for an fp16 d).
    func testQ8ZeroGridAndErrorBound() throws {
        var rng = SeededRandom(seed: 11)
        let w = Matrix(rows: 8, cols: 96, storage: (0..<768).map { _ in rng.nextGaussian() })
        let q = try Q8Zero.quantize(w)
        let deq = q.dequantized()
        for r in 0..<8 {
            for g in 0..<3 {
                let p = q.parameters(row: r, group: g)
                XCTAssertEqual(p.zero, 128)
                XCTAssertEqual(p.scale, Float(Float16(p.scale)))
                for c in (g * 32)..<(g * 32 + 32) {
                    XCTAssertTrue((1...255).contains(q.codes[r * 96 + c]))
                    XCTAssertLessThanOrEqual(abs(deq[r, c] - w[r, c]), p.scale / 2 * (1 + 1e-6))
                }
            }
        }
        XCTAssertThrowsError(try Q8Zero.quantize(Matrix(zeros: 2, 48))) { XCTAssertTrue("\($0)".contains("multiple of 32"), "\($0)") }
    }

    func testInvalidOptionsNameTheOption() {
        XCTAssertThrowsError(try UniformQuantizer(bits: 1)) { error in
            XCTAssertEqual(error as? QuantizationError, .invalidOption(option: "bits", value: "1", reason: "must be 2…8"))
        }
        XCTAssertThrowsError(try UniformQuantizer(bits: 9)) { XCTAssertTrue("\($0)".contains("'bits'")) }
        XCTAssertThrowsError(try UniformQuantizer(bits: 4).quantize(Matrix(zeros: 2, 96), groupSize: 64)) {
            XCTAssertTrue("\($0)".contains("'groupSize' = 64"), "\($0)")
            XCTAssertTrue("\($0)".contains("96"), "\($0)")
        }
        XCTAssertThrowsError(try UniformQuantizer(bits: 4, grid: .affine, search: .owq)) {
            XCTAssertTrue("\($0)".contains("'search'"), "\($0)")
        }
    }
}
