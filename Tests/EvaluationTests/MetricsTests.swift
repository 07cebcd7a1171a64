import Foundation
import Tensor
import TestSupport
import XCTest
@testable import Evaluation

/// Metrics, stderr, McNemar and the paired bootstrap against hand computation and against
/// lm-eval / scipy / numpy (Tests/Fixtures/evaluation/make_metrics_fixture.py → metrics.json).
final class MetricsTests: XCTestCase {
    static let fixture: [String: Any] = {
        let url = Fixtures.url("Tests/Fixtures/evaluation/metrics.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    private func doc(_ choices: [String], gold: Int) -> TaskDocument {
        .sharedContext(id: "t/0", subtask: "t", context: "Q:", choices: choices, gold: gold)
    }

    private func results(_ ll: [Double]) -> [LogLikelihoodResult] { ll.map { LogLikelihoodResult(logLikelihood: $0, isGreedy: false) } }

    func testAccAndAccNormByHand() {
        // ll/len: -6/3 = -2, -5/1 = -5, -9/9 = -1 → acc picks 1 (-5 is largest), acc_norm picks 2.
        let item = ItemRecord(document: doc(["abc", "d", "efghijklm"], gold: 2), results: results([-6, -5, -9]))
        XCTAssertEqual(item.prediction, 1)
        XCTAssertEqual(item.normalizedPrediction, 2)
        XCTAssertFalse(item.correct)
        XCTAssertTrue(item.correctNormalized)
        XCTAssertEqual(item.choiceLengths, [3, 1, 9])
    }

    func testAccNormCountsCodePointsNotBytesOrGraphemes() {
        // "é" precomposed: 1 code point, 2 bytes. Code points: -1.5/1 < -2/2 → choice 1.
        // (Dividing by bytes would give -0.75 > -1 → choice 0.)
        let precomposed = ItemRecord(document: doc(["\u{E9}", "ab"], gold: 1), results: results([-1.5, -2]))
        XCTAssertEqual(precomposed.normalizedPrediction, 1)
        // "e" + combining acute: 2 code points, 1 grapheme. Code points: -0.75 > -1 → choice 0.
        // (Swift's String.count = 1 would give -1.5 < -1 → choice 1.)
        let decomposed = ItemRecord(document: doc(["e\u{301}", "ab"], gold: 0), results: results([-1.5, -2]))
        XCTAssertEqual(decomposed.choiceLengths, [2, 2])
        XCTAssertEqual(decomposed.normalizedPrediction, 0)
        // "15°C": 4 code points, 5 bytes (the ARC-Easy item 22 case).
        XCTAssertEqual(PythonText.length("15°C"), 4)
    }

    func testTiesGoToLowestIndexLikeNumpy() {
        XCTAssertEqual(Metrics.argmax([-1, -1, -3]), 0)
        XCTAssertEqual(Metrics.argmax([-3, -1, -1]), 1)
        XCTAssertEqual(Metrics.argmax([-3, .nan, 0]), 1, "numpy.argmax returns the first NaN")
    }

    func testStderrMatchesLMEval() throws {
        for case let entry as [String: Any] in Self.fixture["stderr"] as! [Any] {
            let values = entry["values"] as! [Double]
            XCTAssertEqual(Metrics.mean(values), entry["mean"] as! Double, accuracy: 1e-15)
            XCTAssertEqual(Metrics.meanStderr(values), entry["stderr"] as! Double, accuracy: 1e-15)
        }
        XCTAssertTrue(Metrics.meanStderr([1]).isNaN)
    }

    func testSizeWeightedGroupMatchesLMEvalPooledStderr() throws {
        let pooled = Self.fixture["pooled"] as! [String: Any]
        let groups = pooled["values"] as! [[Double]], sizes = pooled["sizes"] as! [Int]
        XCTAssertEqual(Metrics.sizeWeightedMean(groups.map(Metrics.mean), sizes: sizes), pooled["weighted_mean"] as! Double, accuracy: 1e-15)
        XCTAssertEqual(Metrics.pooledStderr(groups.map(Metrics.meanStderr), sizes: sizes), pooled["stderr"] as! Double, accuracy: 1e-15)
    }

    func testMcNemarMatchesScipyBinomtest() {
        for case let entry as [String: Any] in Self.fixture["mcnemar"] as! [Any] {
            let b = entry["b"] as! Int, c = entry["c"] as! Int
            XCTAssertEqual(PairedComparison.mcnemarExact(b: b, c: c), entry["p"] as! Double, accuracy: 1e-12, "b=\(b) c=\(c)")
        }
        XCTAssertEqual(try PairedComparison.mcnemarExact([true, true, false, false], [false, true, true, true]),
                       PairedComparison.mcnemarExact(b: 1, c: 2))
    }

    func testDrawStreamMatchesPythonReimplementation() {
        let draws = Self.fixture["first_draws"] as! [String: Any]
        var rng = SeededRandom(seed: UInt64(draws["seed"] as! Int))
        XCTAssertEqual((0..<3).map { _ in String(rng.next()) }, draws["raw"] as! [String])
        XCTAssertEqual((0..<5).map { _ in PairedComparison.uniformIndex(below: 1000, &rng) }, draws["below_1000"] as! [Int])
    }

    func testPairedBootstrapMatchesNumpy() throws {
        for case let entry as [String: Any] in Self.fixture["bootstrap"] as! [Any] {
            let r = try PairedComparison.pairedBootstrap(entry["a"] as! [Double], entry["b"] as! [Double],
                                                         resamples: entry["resamples"] as! Int, seed: UInt64(entry["seed"] as! Int))
            XCTAssertEqual(r.observedDelta, entry["observed"] as! Double, accuracy: 1e-12)
            XCTAssertEqual(r.stderr, entry["stderr"] as! Double, accuracy: 1e-12)
            XCTAssertEqual(r.lower, entry["lower"] as! Double, accuracy: 1e-12)
            XCTAssertEqual(r.upper, entry["upper"] as! Double, accuracy: 1e-12)
            XCTAssertEqual(r.pValue, entry["p"] as! Double, accuracy: 1e-12)
        }
        XCTAssertThrowsError(try PairedComparison.pairedBootstrap([1, 0], [1], seed: 1))
    }
}
