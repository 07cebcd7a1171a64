import XCTest
@testable import qaft

/// How the precision section sums up its rounds and judges a ratio against its target.
final class WorkloadRateTests: XCTestCase {
    func testSummaryIsTheMedianRateAndTheLargestPeak() {
        let rounds = [WorkloadRate(tokensPerSecond: 300, peakBytes: 7, processPeakBytes: 20),
                      WorkloadRate(tokensPerSecond: 100, peakBytes: 9, processPeakBytes: 10),
                      WorkloadRate(tokensPerSecond: 200, peakBytes: 8, processPeakBytes: 30)]
        XCTAssertEqual(WorkloadRate.summary(rounds), WorkloadRate(tokensPerSecond: 200, peakBytes: 9, processPeakBytes: 30))
        XCTAssertEqual(WorkloadRate.summary(Array(rounds.prefix(2))).tokensPerSecond, 300, "even count: the upper median")
    }

    func testAPeakMissingInAnyRoundIsMissingFromTheSummary() {
        let s = WorkloadRate.summary([WorkloadRate(tokensPerSecond: 1, peakBytes: 5), WorkloadRate(tokensPerSecond: 2, peakBytes: nil)])
        XCTAssertNil(s.peakBytes)
        XCTAssertNil(s.processPeakBytes)
        XCTAssertEqual(s.formatted, "    2.0 tokens/s   peak n/a")
        XCTAssertEqual(WorkloadRate(tokensPerSecond: 523.14, peakBytes: 1_104_000_000, processPeakBytes: 1_690_000_000).formatted,
                       "  523.1 tokens/s   peak 1.10 GB  (process 1.69 GB)")
    }

    func testTargetsAreMetInclusivelyFromTheirSide() {
        XCTAssertEqual(TargetRatio(value: 1.2, target: 1.2, atLeast: true).formatted, "1.20× (target ≥ 1.2×) PASS")
        XCTAssertEqual(TargetRatio(value: 1.19, target: 1.2, atLeast: true).formatted, "1.19× (target ≥ 1.2×) FAIL")
        XCTAssertEqual(TargetRatio(value: 0.5, target: 0.5, atLeast: false).formatted, "0.50× (target ≤ 0.5×) PASS")
        XCTAssertEqual(TargetRatio(value: 0.76, target: 0.5, atLeast: false).formatted, "0.76× (target ≤ 0.5×) FAIL")
        XCTAssertEqual(TargetRatio(value: 253.0 / 256, target: 0.99, atLeast: true, percent: true).formatted, "98.8 % (target ≥ 99 %) FAIL")
        XCTAssertEqual(TargetRatio(value: 254.0 / 256, target: 0.99, atLeast: true, percent: true).formatted, "99.2 % (target ≥ 99 %) PASS")
    }
}
