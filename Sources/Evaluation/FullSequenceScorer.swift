import Models
import Tensor

/// Scores every request on its own full sequence, without a KV cache: the plain computation that
/// prefix reuse must reproduce, the "without reuse" side of `qaft bench`, and `ModelScorer`'s path
/// for requests that cannot share (empty context, or too long). Several sequences are packed into
/// one forward (up to `rowBudget` rows) so even this baseline runs as GEMM, not GEMV.
public final class FullSequenceScorer: LogLikelihoodScorer {
    public let model: Llama
    /// lm-eval's max_length: longer inputs keep their last `maxLength + 1` tokens minus the final one.
    public let maxLength: Int
    public let rowBudget: Int
    /// Token rows run through the model so far (for throughput reports).
    public private(set) var forwardedTokens = 0

    public init(model: Llama, maxLength: Int = 2048, rowBudget: Int = 512) {
        self.model = model
        self.maxLength = Swift.min(maxLength, model.rope.maxPositions)
        self.rowBudget = rowBudget
    }

    public func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
        var sums = [Double](repeating: 0, count: requests.count)
        var greedy = [Bool](repeating: true, count: requests.count)
        var start = 0
        while start < requests.count {
            var batch = TokenBatch()
            var rows: [Int] = [], owners: [(request: Int, target: Int)] = []
            var end = start
            while end < requests.count {
                let r = requests[end]
                // As lm-eval: the model reads the last maxLength + 1 tokens of context + continuation, minus the final one.
                let whole = Array((r.context + r.continuation).suffix(maxLength + 1))
                guard end == start || batch.rowCount + whole.count - 1 <= rowBudget else { break }
                let scored = Swift.min(r.continuation.count, whole.count - 1)
                let offset = batch.rowCount
                batch.append(Array(whole.dropLast()), slot: 0)
                for t in (whole.count - 1 - scored)..<(whole.count - 1) {
                    rows.append(offset + t)
                    owners.append((end, whole[t + 1]))
                }
                end += 1
            }
            try model.forward(batch, logitRows: rows) { i, logits in
                let (r, target) = owners[i]
                sums[r] += Double(Self.logProb(of: target, in: logits))
                if SIMDMath.argmax(logits.baseAddress!, logits.count) != target { greedy[r] = false }
            }
            forwardedTokens += batch.rowCount
            start = end
        }
        return zip(sums, greedy).map { LogLikelihoodResult(logLikelihood: $0, isGreedy: $1) }
    }

    @inline(__always)
    static func logProb(of token: Int, in logits: UnsafeBufferPointer<Float>) -> Float {
        logits[token] - SIMDMath.logSumExp(logits.baseAddress!, logits.count)
    }
}
