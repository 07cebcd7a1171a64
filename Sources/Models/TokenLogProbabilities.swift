import Foundation
import Tensor

extension Llama {
    /// Log-probability of each token of each sequence given the tokens before it: element t of
    /// sequence i is log p(tokensᵢ[t+1] | tokensᵢ[...t]), so a sequence of n tokens yields n − 1
    /// values. The head runs only on scored rows, in bounded chunks, and no (rows × V) matrix is kept.
    public func nextTokenLogProbabilities(_ sequences: [[Int]]) throws -> [[Float]] {
        let batch = TokenBatch(sequences: sequences)
        var rows: [Int] = [], targets: [Int] = []
        for (i, s) in sequences.enumerated() where s.count > 1 {
            let off = batch.sequences[i].offset
            for t in 0..<(s.count - 1) {
                rows.append(off + t)
                targets.append(s[t + 1])
            }
        }
        var flat = [Float](repeating: 0, count: rows.count)
        try forward(batch, logitRows: rows) { i, logits in
            flat[i] = logits[targets[i]] - SIMDMath.logSumExp(logits.baseAddress!, logits.count)
        }
        var out: [[Float]] = [], k = 0
        for s in sequences {
            let n = Swift.max(0, s.count - 1)
            out.append(Array(flat[k..<(k + n)]))
            k += n
        }
        return out
    }
}

/// Summed negative log-likelihood of a token stream scored in windows.
public struct WindowedNLL: Sendable, Equatable {
    /// Σ −log p over every predicted token.
    public var totalNLL: Double
    /// Number of predicted tokens.
    public var predicted: Int
    public var windows: Int

    public init(totalNLL: Double, predicted: Int, windows: Int) {
        self.totalNLL = totalNLL
        self.predicted = predicted
        self.windows = windows
    }

    public var meanNLL: Double { totalNLL / Double(Swift.max(predicted, 1)) }
    public var perplexity: Double { Foundation.exp(meanNLL) }
}

extension Llama {
    /// Scores `tokens` in non-overlapping windows of `window` tokens (the last may be shorter); each
    /// window is an independent sequence, optionally started with `prefix` (e.g. BOS), and every token
    /// after the window's first is predicted. `progress(windowsDone, windowsTotal)` follows along.
    public func windowedNLL(
        _ tokens: [Int], window: Int, prefix: [Int] = [], progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> WindowedNLL {
        precondition(window > prefix.count, "window \(window) must exceed the prefix length \(prefix.count)")
        let body = window - prefix.count
        let total = (tokens.count + body - 1) / body
        var result = WindowedNLL(totalNLL: 0, predicted: 0, windows: 0)
        var start = 0
        while start < tokens.count {
            let seq = prefix + tokens[start..<Swift.min(start + body, tokens.count)]
            let lp = try nextTokenLogProbabilities([seq])[0]
            result.totalNLL -= lp.reduce(0.0) { $0 + Double($1) }
            result.predicted += lp.count
            result.windows += 1
            start += body
            progress(result.windows, total)
        }
        return result
    }
}
