import Foundation
import Tensor

/// Significance of the difference between two runs scored on the same items (per-item 0/1
/// correctness, or any per-item score for the bootstrap).
public enum PairedComparison {
    /// Exact McNemar test: of the discordant items, `b` were right only in A and `c` only in B. Under
    /// H0 b ~ Binomial(b + c, ½); the two-sided p-value is min(1, 2·P(X ≤ min(b, c))), which equals
    /// `scipy.stats.binomtest(min(b,c), b+c, 0.5).pvalue`.
    public static func mcnemarExact(b: Int, c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        // Sum in log space so n in the thousands cannot underflow the terms.
        let lnHalfN = Double(n) * log(0.5)
        var tail = 0.0
        for k in 0...min(b, c) {
            tail += exp(lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1)) + lnHalfN)
        }
        return min(1, 2 * tail)
    }

    /// McNemar on two correctness vectors over the same items.
    public static func mcnemarExact(_ a: [Bool], _ b: [Bool]) throws -> Double {
        guard a.count == b.count else { throw EvaluationError.mismatchedRuns(reason: "\(a.count) vs \(b.count) items") }
        var onlyA = 0, onlyB = 0
        for (x, y) in zip(a, b) where x != y { if x { onlyA += 1 } else { onlyB += 1 } }
        return mcnemarExact(b: onlyA, c: onlyB)
    }

    /// The result of a paired bootstrap of mean(B) − mean(A).
    public struct Bootstrap: Codable, Equatable, Sendable {
        /// mean(B) − mean(A) on the items themselves.
        public let observedDelta: Double
        /// Standard deviation (n − 1) of the resampled deltas.
        public let stderr: Double
        /// Percentile interval (numpy's default linear interpolation) at the requested level.
        public let lower: Double
        public let upper: Double
        /// Two-sided: 2·min(P*(δ ≤ 0), P*(δ ≥ 0)), capped at 1.
        public let pValue: Double
        public let resamples: Int
        public let seed: UInt64
    }

    /// Resamples item indices with replacement `resamples` times (uniform draws from `SeededRandom`
    /// by Lemire's multiply-shift with rejection, so the stream is reproducible outside Swift).
    public static func pairedBootstrap(_ a: [Double], _ b: [Double], resamples: Int = 10_000, seed: UInt64,
                                       confidence: Double = 0.95) throws -> Bootstrap {
        guard a.count == b.count, !a.isEmpty else { throw EvaluationError.mismatchedRuns(reason: "\(a.count) vs \(b.count) items") }
        let n = a.count
        let diff = zip(b, a).map { $0 - $1 }
        var rng = SeededRandom(seed: seed)
        var deltas = [Double](repeating: 0, count: resamples)
        diff.withUnsafeBufferPointer { d in
            for r in 0..<resamples {
                var s = 0.0
                for _ in 0..<n { s += d[uniformIndex(below: n, &rng)] }
                deltas[r] = s / Double(n)
            }
        }
        let observed = Metrics.mean(diff)
        let sd = Metrics.meanStderr(deltas) * Double(resamples).squareRoot()
        let sorted = deltas.sorted()
        let le = Double(deltas.filter { $0 <= 0 }.count) / Double(resamples)
        let ge = Double(deltas.filter { $0 >= 0 }.count) / Double(resamples)
        let alpha = (1 - confidence) / 2
        return Bootstrap(observedDelta: observed, stderr: sd, lower: percentile(sorted, alpha), upper: percentile(sorted, 1 - alpha),
                         pValue: min(1, 2 * min(le, ge)), resamples: resamples, seed: seed)
    }

    /// Unbiased integer in [0, n): Lemire's multiply-high with rejection of the biased low range.
    static func uniformIndex(below n: Int, _ rng: inout SeededRandom) -> Int {
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound
        while true {
            let (high, low) = rng.next().multipliedFullWidth(by: bound)
            if low >= threshold { return Int(high) }
        }
    }

    /// `numpy.percentile(x, 100·q)` with the default "linear" method, on sorted input.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
}
