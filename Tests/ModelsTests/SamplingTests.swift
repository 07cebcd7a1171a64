import XCTest
@testable import Models
import Tensor

/// The token sampler: greedy, the uncut softmax (sampled without sorting) and the top-k / top-p cuts.
final class SamplingTests: XCTestCase {
    private let logits: [Float] = [0.5, 2.0, -1.0, 1.0, 0.0, 3.0]

    private func draws(_ o: SamplingOptions, _ n: Int) -> [Int] {
        var rng = SeededRandom(seed: 7)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<n {
            var row = logits
            counts[row.withUnsafeMutableBufferPointer { Generator.choose($0, o, &rng) }] += 1
        }
        return counts
    }

    func testGreedyAndTopOneAreTheArgmax() {
        XCTAssertEqual(draws(.greedy, 5), [0, 0, 0, 0, 0, 5])
        XCTAssertEqual(draws(SamplingOptions(temperature: 1, topK: 1), 50), [0, 0, 0, 0, 0, 50])
    }

    /// Frequencies of 20,000 uncut draws at temperature 0.7 lie within 4.5 binomial standard
    /// deviations of softmax(logits / 0.7) (a fixed seed, so the test is deterministic).
    func testUncutSamplingFollowsTheSoftmax() {
        let t: Float = 0.7, n = 20_000
        let e = logits.map { Foundation.exp(Double($0 / t)) }, z = e.reduce(0, +)
        for (count, p) in zip(draws(SamplingOptions(temperature: t), n), e.map { $0 / z }) {
            XCTAssertLessThan(abs(Double(count) - p * Double(n)), 4.5 * (Double(n) * p * (1 - p)).squareRoot() + 1, "p \(p) count \(count)")
        }
    }

    /// top-p keeps the smallest head of the sorted distribution whose mass reaches p; top-k the k largest.
    func testCutsExcludeTheTail() {
        // softmax at T = 1: 3.0 → 0.61, 2.0 → 0.22, 1.0 → 0.08, ...: p = 0.8 keeps tokens 5 and 1.
        let topP = draws(SamplingOptions(temperature: 1, topP: 0.8), 2000)
        XCTAssertEqual(topP[0] + topP[2] + topP[3] + topP[4], 0, "\(topP)")
        XCTAssertGreaterThan(topP[1], 300)
        let topK = draws(SamplingOptions(temperature: 1, topK: 3), 2000)
        XCTAssertEqual(topK[0] + topK[2] + topK[4], 0, "\(topK)")
        XCTAssertGreaterThan(topK[3], 50)
    }
}
