import Foundation

/// A paired significance test over per-item scores of two runs on the same items. Reports does
/// not depend on Evaluation; the caller plugs its test in (e.g. a paired bootstrap).
public protocol PairedTest {
    /// Shown next to the p-value, e.g. "paired bootstrap, 2000 resamples".
    var name: String { get }
    /// Mean(b) − mean(a) and its two-sided p-value.
    func compare(_ a: [Double], _ b: [Double]) throws -> (delta: Double, pValue: Double)
}

/// One cell's measurement, with its per-item scores (for paired tests).
public struct CellScores: Sendable {
    public var value: Double
    public var items: [Double]
    /// Tokens (or units) each item covers; items of different sizes are aligned by `PairedSeries`.
    public var itemSize: Int

    public init(value: Double, items: [Double], itemSize: Int) {
        self.value = value
        self.items = items
        self.itemSize = itemSize
    }
}

/// A paper's claim restated on our cells: "`better` beats `worse`" on one metric.
public struct ClaimCheck: Sendable {
    public var id: String
    /// The claim in words, as the paper makes it.
    public var statement: String
    /// Where the paper makes it (table/figure/section).
    public var source: String
    public var better: String
    public var worse: String
    public var lowerIsBetter: Bool
    /// Smallest p-value counted as significant.
    public var alpha: Double

    public init(id: String, statement: String, source: String, better: String, worse: String, lowerIsBetter: Bool, alpha: Double = 0.05) {
        self.id = id
        self.statement = statement
        self.source = source
        self.better = better
        self.worse = worse
        self.lowerIsBetter = lowerIsBetter
        self.alpha = alpha
    }

    public enum Verdict: String, Sendable {
        case holds = "holds"
        case holdsNotSignificant = "same direction, not significant"
        case fails = "does not hold"
        case notMeasured = "not measured"
        /// Measured, but the cells cannot carry the claim (`Outcome.reason` says why): a time taken
        /// beside other work, or two cells equal on every item (no difference to test).
        case notJudged = "not judged"
    }

    public struct Outcome: Sendable {
        public let claim: ClaimCheck
        public let verdict: Verdict
        public let betterValue: Double?
        public let worseValue: Double?
        public let pValue: Double?
        public let test: String?
        public let pairs: Int
        /// A ratio claim's value(better) / value(worse) and its bound, in words (e.g. "≤ 1.1").
        public var ratio: Double? = nil
        public var bound: String? = nil
        /// Why the claim was not judged (`Verdict.notJudged`).
        public var reason: String? = nil
    }

    /// Judges a bound on value(better) / value(worse) of two single measurements (nil: not measured);
    /// with a `doubt` about either value the ratio is shown but not judged.
    public func evaluateRatio(better b: Double?, worse w: Double?, atMost: Double?, atLeast: Double?, doubt: String? = nil) -> Outcome {
        let bound = [atLeast.map { "≥ \($0)" }, atMost.map { "≤ \($0)" }].compactMap { $0 }.joined(separator: " and ")
        guard let b, let w, w != 0 else {
            return Outcome(claim: self, verdict: .notMeasured, betterValue: b, worseValue: w, pValue: nil, test: nil, pairs: 0, bound: bound)
        }
        let r = b / w
        let holds = atMost.map { r <= $0 } ?? true && atLeast.map { r >= $0 } ?? true
        return Outcome(claim: self, verdict: doubt != nil ? .notJudged : holds ? .holds : .fails, betterValue: b, worseValue: w,
                       pValue: nil, test: nil, pairs: 0, ratio: r, bound: bound, reason: doubt)
    }

    /// Judges the claim from the two cells' measurements (nil: the cell was not measured). Cells
    /// equal on every paired item (no model solves a GSM8K problem, say) measure no difference, so
    /// they neither support nor refute the claim: not judged, rather than "does not hold".
    public func evaluate(better b: CellScores?, worse w: CellScores?, test: any PairedTest) throws -> Outcome {
        guard let b, let w else {
            return Outcome(claim: self, verdict: .notMeasured, betterValue: b?.value, worseValue: w?.value, pValue: nil, test: nil, pairs: 0)
        }
        let (x, y) = try PairedSeries.align(b.items, size: b.itemSize, w.items, size: w.itemSize)
        guard x.count >= 2 else { throw ReportError.claim(id: id, reason: "fewer than two paired items") }
        if x == y {
            return Outcome(claim: self, verdict: .notJudged, betterValue: b.value, worseValue: w.value, pValue: nil, test: nil, pairs: x.count,
                           reason: "the two cells are equal on all \(x.count) paired items: no difference to test")
        }
        let p = try test.compare(y, x).pValue
        let direction = lowerIsBetter ? b.value < w.value : b.value > w.value
        let verdict: Verdict = !direction ? .fails : (p < alpha ? .holds : .holdsNotSignificant)
        return Outcome(claim: self, verdict: verdict, betterValue: b.value, worseValue: w.value, pValue: p, test: test.name, pairs: x.count)
    }
}

/// Pairs per-item scores of two runs whose items cover the same data in different sizes (e.g.
/// perplexity windows of 64 and 256 tokens over one text): each larger item is paired with the
/// mean of the smaller items it covers.
public enum PairedSeries {
    public static func align(_ a: [Double], size sa: Int, _ b: [Double], size sb: Int) throws -> ([Double], [Double]) {
        guard sa > 0, sb > 0, max(sa, sb) % min(sa, sb) == 0 else {
            throw ReportError.claim(id: "-", reason: "item sizes \(sa) and \(sb) do not nest, so items cannot be paired")
        }
        if sa == sb {
            let n = min(a.count, b.count)
            return (Array(a.prefix(n)), Array(b.prefix(n)))
        }
        if sa > sb {
            let (y, x) = try align(b, size: sb, a, size: sa)
            return (x, y)
        }
        let k = sb / sa, n = min(b.count, a.count / k)
        let merged = (0..<n).map { j in a[(j * k)..<(j * k + k)].reduce(0, +) / Double(k) }
        return (merged, Array(b.prefix(n)))
    }
}
