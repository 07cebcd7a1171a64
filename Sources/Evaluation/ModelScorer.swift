import Models
import Tensor

/// Scores log-likelihood requests with a `Llama`, computing shared context once.
///
/// Slot 0 of the KV cache holds the last context scored. A new request's context reuses the longest
/// common prefix with it (the evaluator sorts requests by context, so an MMLU subject's 5-shot prefix
/// is computed once per subject, and each question once for all its answers); each continuation then
/// runs in a slot forked from slot 0, several in one packed batch. The head runs only at scored rows.
/// One-token continuations (MMLU's " A") need no forward of their own at all.
///
/// Results depend only on the order of requests, not on how they are split into `score` calls: the
/// cache and its tokens persist across calls.
public final class ModelScorer: LogLikelihoodScorer {
    public let model: Llama
    /// lm-eval's max_length: longer inputs keep their last `maxLength` tokens.
    public let maxLength: Int
    /// Continuations run together in one forward (cache slots 1 ... forkSlots).
    public let forkSlots: Int
    private let cache: KVCache
    private var cachedContext: [Int] = []
    private var contextLogits: [Float] = []

    public init(model: Llama, maxLength: Int = 2048, forkSlots: Int = 8) {
        self.model = model
        self.maxLength = Swift.min(maxLength, model.rope.maxPositions)
        self.forkSlots = forkSlots
        cache = KVCache(config: model.config, slots: 1 + forkSlots, capacity: self.maxLength)
    }

    public func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
        var results = [LogLikelihoodResult?](repeating: nil, count: requests.count)
        var i = 0
        while i < requests.count {
            var j = i + 1
            while j < requests.count && requests[j].context == requests[i].context { j += 1 }
            try scoreGroup(requests, Array(i..<j), into: &results)
            i = j
        }
        return results.map { $0! }
    }

    /// Requests sharing one context.
    private func scoreGroup(_ requests: [LogLikelihoodRequest], _ group: [Int], into results: inout [LogLikelihoodResult?]) throws {
        let context = requests[group[0]].context
        var fitting: [Int] = []
        for r in group {
            let req = requests[r]
            if context.isEmpty || context.count + req.continuation.count > maxLength + 1 || req.continuation.isEmpty {
                results[r] = try scoreAlone(req)
            } else {
                fitting.append(r)
            }
        }
        if fitting.isEmpty { return }
        try prefill(context)
        var k = 0
        while k < fitting.count {
            let chunk = Array(fitting[k..<Swift.min(k + forkSlots, fitting.count)])
            try scoreContinuations(chunk.map { requests[$0].continuation }, contextLength: context.count).enumerated()
                .forEach { results[chunk[$0.offset]] = $0.element }
            k += chunk.count
        }
    }

    /// Makes slot 0 hold exactly `context` and `contextLogits` its last row's logits.
    private func prefill(_ context: [Int]) throws {
        if context == cachedContext && !contextLogits.isEmpty { return }
        var common = 0
        while common < Swift.min(context.count, cachedContext.count) && context[common] == cachedContext[common] { common += 1 }
        common = Swift.min(common, context.count - 1)  // the last context row must run to give its logits
        for s in 0...forkSlots where s > 0 { cache.reset(slot: s) }
        cache.truncate(slot: 0, to: common)
        cachedContext = Array(context.prefix(common))
        contextLogits = []
        let fresh = Array(context[common...])
        try model.forward(TokenBatch(fresh), cache: cache, logitRows: [fresh.count - 1]) { _, logits in
            contextLogits = Array(logits)
        }
        cachedContext = context
    }

    /// Continuations after the context in slot 0, each in its own forked slot, in one packed forward.
    private func scoreContinuations(_ continuations: [[Int]], contextLength: Int) throws -> [LogLikelihoodResult] {
        var batch = TokenBatch()
        var rows: [Int] = [], owners: [(request: Int, token: Int)] = []
        for (n, cont) in continuations.enumerated() where cont.count > 1 {
            let slot = n + 1
            cache.reset(slot: slot)
            cache.fork(slot: slot, from: 0, length: contextLength)
            let offset = batch.rowCount
            batch.append(Array(cont.dropLast()), slot: slot)
            for t in 0..<(cont.count - 1) {
                rows.append(offset + t)
                owners.append((n, t + 1))
            }
        }
        var sums = continuations.map { cont -> Double in
            contextLogits.withUnsafeBufferPointer { Double(Self.logProb(of: cont[0], in: $0)) }
        }
        var greedy = continuations.map { cont in
            contextLogits.withUnsafeBufferPointer { SIMDMath.argmax($0.baseAddress!, $0.count) == cont[0] }
        }
        if batch.rowCount > 0 {
            try model.forward(batch, cache: cache, logitRows: rows) { i, logits in
                let (n, t) = owners[i]
                let target = continuations[n][t]
                sums[n] += Double(Self.logProb(of: target, in: logits))
                if SIMDMath.argmax(logits.baseAddress!, logits.count) != target { greedy[n] = false }
            }
            for (n, cont) in continuations.enumerated() where cont.count > 1 { cache.reset(slot: n + 1) }
        }
        return zip(sums, greedy).map { LogLikelihoodResult(logLikelihood: $0, isGreedy: $1) }
    }

    /// A request that cannot share: no context, or longer than `maxLength` (cut from the left as
    /// lm-eval does: the last maxLength + 1 tokens, minus the final one, are the input).
    private func scoreAlone(_ req: LogLikelihoodRequest) throws -> LogLikelihoodResult {
        let whole = Array((req.context + req.continuation).suffix(maxLength + 1))
        let scored = Swift.min(req.continuation.count, whole.count - 1)
        let input = Array(whole.dropLast())
        var sum = 0.0, greedy = true
        let rows = Array((input.count - scored)..<input.count)
        try model.forward(TokenBatch(input), logitRows: rows) { i, logits in
            let target = whole[rows[i] + 1]
            sum += Double(Self.logProb(of: target, in: logits))
            if SIMDMath.argmax(logits.baseAddress!, logits.count) != target { greedy = false }
        }
        return LogLikelihoodResult(logLikelihood: sum, isGreedy: greedy)
    }

    @inline(__always)
    static func logProb(of token: Int, in logits: UnsafeBufferPointer<Float>) -> Float {
        logits[token] - SIMDMath.logSumExp(logits.baseAddress!, logits.count)
    }
}
