import Quantization
import Tensor
import XCTest

final class WeakColumnsTests: XCTestCase {
    func testSelectionMatchesNaiveReference() throws {
        var rng = SeededRandom(seed: 21)
        for n in [10, 64, 577] {
            // Coarse values force ties, which both must break toward the lower index.
            let scores = (0..<n).map { _ in Double(rng.next() % 50) }
            for k in [0, 1, 7, n / 2, n] {
                XCTAssertEqual(try WeakColumns.top(k, of: scores), WeakColumnsReference.top(k, of: scores), "n \(n) k \(k)")
            }
        }
        XCTAssertThrowsError(try WeakColumns.top(11, of: [Double](repeating: 1, count: 10))) {
            XCTAssertTrue("\($0)".contains("'k'"), "\($0)")
        }
    }

    func testOWQScoresMatchNaiveReference() throws {
        let w = TestData.gaussian(24, 80, seed: 22, scale: 0.05)
        var rng = SeededRandom(seed: 23)
        let h = (0..<80).map { _ in Double(rng.nextUnitFloat()) * 10 }
        let trial = try WeakColumns.owqTrialQuantizer()
        let fast = try WeakColumns.owqScores(weight: w, hessianDiagonal: h, trial: trial)
        let naive = WeakColumnsReference.owqScores(weight: w, hessianDiagonal: h, trial: trial)
        for (a, b) in zip(fast, naive) { XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b))) }
        XCTAssertEqual(try WeakColumns.top(8, of: fast), WeakColumnsReference.top(8, of: naive))
    }

    /// QEFT's global index against NumPy (Tests/Fixtures/quantization/global_index.json).
    func testGlobalIndexMatchesNumPy() throws {
        let f = try TestData.json("global_index")
        let diagonals = (f["diagonals"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
        XCTAssertEqual(try WeakColumns.globalIndex(hessianDiagonals: diagonals, k: f["k"] as! Int), f["index"] as! [Int])
        XCTAssertThrowsError(try WeakColumns.globalIndex(hessianDiagonals: [[1, 2], [1]], k: 1)) {
            XCTAssertEqual($0 as? QuantizationError, .shapeMismatch(what: "Hessian diagonal of layer 1", expected: [2], found: [1]))
        }
    }
}
