import Foundation

/// lm-eval's multiple-choice metrics and its aggregation arithmetic (api/metrics.py, api/group.py).
public enum Metrics {
    /// The index of the largest value; ties go to the lowest index, as with `numpy.argmax`. NaN
    /// compares as the largest value, also as numpy does.
    public static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices.dropFirst() where values[best].isNaN ? false : (values[i].isNaN || values[i] > values[best]) {
            best = i
        }
        return best
    }

    /// acc's prediction: argmax of the summed log-likelihoods.
    public static func prediction(logLikelihoods: [Double]) -> Int { argmax(logLikelihoods) }

    /// acc_norm's prediction: argmax of log-likelihood ÷ the choice's length in code points (Python
    /// `len`, not grapheme clusters, not bytes, not tokens; the delimiter space is not counted).
    public static func normalizedPrediction(logLikelihoods: [Double], choices: [String]) -> Int {
        argmax(zip(logLikelihoods, choices).map { $0 / Double(PythonText.length($1)) })
    }

    public static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

    /// lm-eval's `mean_stderr`: the sample standard deviation (n − 1) over √n. NaN when n < 2.
    public static func meanStderr(_ x: [Double]) -> Double {
        let n = Double(x.count)
        guard x.count > 1 else { return .nan }
        let mu = mean(x)
        let ss = x.reduce(0) { $0 + ($1 - mu) * ($1 - mu) }
        return (ss / (n - 1)).squareRoot() / n.squareRoot()
    }

    /// lm-eval's `aggregate_subtask_metrics` with `weight_by_size: true`.
    public static func sizeWeightedMean(_ values: [Double], sizes: [Int]) -> Double {
        zip(values, sizes).reduce(0) { $0 + $1.0 * Double($1.1) } / Double(sizes.reduce(0, +))
    }

    /// lm-eval's `pooled_sample_stderr`: the stderr of a size-weighted group mean from its subtasks'
    /// stderrs, √(Σ (nᵢ−1)·nᵢ·seᵢ² / (Σnᵢ − k) / Σnᵢ).
    public static func pooledStderr(_ stderrs: [Double], sizes: [Int]) -> Double {
        let total = Double(sizes.reduce(0, +))
        let pooledVariance = zip(stderrs, sizes).reduce(0) { $0 + Double($1.1 - 1) * $1.0 * $1.0 * Double($1.1) }
            / (total - Double(sizes.count))
        return (pooledVariance / total).squareRoot()
    }
}
