/// One log-likelihood query in token ids: score `continuation` after `context`. The two were split
/// the lm-eval way (`LMEvalEncoder`), so `context + continuation` is what the model reads.
public struct LogLikelihoodRequest: Hashable, Codable, Sendable {
    public let context: [Int]
    public let continuation: [Int]
    public init(context: [Int], continuation: [Int]) {
        self.context = context
        self.continuation = continuation
    }
}

/// What a scorer returns per request.
public struct LogLikelihoodResult: Equatable, Codable, Sendable {
    /// Σ log p(continuation token | everything before it), natural log.
    public let logLikelihood: Double
    /// Whether every continuation token is the argmax of its distribution (lm-eval's is_greedy).
    public let isGreedy: Bool
    public init(logLikelihood: Double, isGreedy: Bool) {
        self.logLikelihood = logLikelihood
        self.isGreedy = isGreedy
    }
}

/// A model that scores continuations. The evaluator hands requests over sorted by context tokens,
/// so requests sharing a context (or a context prefix, as all MMLU k-shot prompts of one subject
/// do) are adjacent and a KV cache can be reused between them. Results come back in request order.
public protocol LogLikelihoodScorer {
    func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult]
}
