import Foundation
import Models
import Tensor

/// Scores log-likelihood requests with a `Llama`, computing shared context once and feeding the
/// model big packed batches.
///
/// Requests arrive sorted by context (the evaluator's order), so equal contexts are adjacent and
/// neighbouring contexts share long prefixes. Consecutive contexts are scored in *waves*:
/// 1. the wave's longest common prefix P (an MMLU subject's 5-shot prefix) lives in slot 0 and is
///    extended from what slot 0 already holds, so it is computed once per subject;
/// 2. every context's own remainder runs in a slot forked from slot 0 at |P|, all of the wave's
///    remainders in one packed forward, with the head only at each context's last row — which
///    already scores every continuation's first token (so one-token answers like MMLU's " A" need
///    no forward of their own);
/// 3. the continuations' remaining tokens run in slots forked from their context's slot, packed
///    `forkSlots` at a time.
/// A wave grows while its new context rows fit `rowBudget`, so waves end where the shared prefix
/// would collapse (at an MMLU subject boundary). Requests that cannot share (no context, longer than
/// `maxLength`) go to `FullSequenceScorer`.
///
/// Results depend only on the requests, not on how they are split into `score` calls, up to float
/// rounding (a row's value can differ in the last bits with the shape of the batch it ran in).
/// Each call starts from an empty cache, so a call's results are a function of its requests alone,
/// bit for bit: the evaluator's fixed batches give the same bits on any worker, in any order, and
/// after a resume. That costs one recomputation of a shared prefix per call (≈ 4% of 5-shot MMLU
/// at the evaluator's 512 requests per call).
public final class ModelScorer: LogLikelihoodScorer {
    public let model: Llama
    /// lm-eval's max_length: longer inputs keep their last `maxLength` tokens.
    public let maxLength: Int
    /// Contexts computed together in one forward (cache slots 1 ... contextSlots).
    public let contextSlots: Int
    /// Continuations computed together in one forward (the slots after the context slots).
    public let forkSlots: Int
    /// Rows a packed forward aims at; a single longer sequence still runs, alone.
    public let rowBudget: Int
    private let cache: KVCache
    /// The tokens slot 0 holds.
    private var prefix: [Int] = []
    private let fallback: FullSequenceScorer
    private var ownTokens = 0

    /// Token rows run through the model so far, including the fallback's (for throughput reports).
    public var forwardedTokens: Int { ownTokens + fallback.forwardedTokens }

    public init(model: Llama, maxLength: Int = 2048, contextSlots: Int = 16, forkSlots: Int = 32, rowBudget: Int = 512) {
        self.model = model
        self.maxLength = Swift.min(maxLength, model.rope.maxPositions)
        self.contextSlots = contextSlots
        self.forkSlots = forkSlots
        self.rowBudget = rowBudget
        // Every slot spans maxLength positions, but only the rows written are ever touched, so the
        // resident memory follows the tokens actually cached.
        cache = KVCache(config: model.config, slots: 1 + contextSlots + forkSlots, capacity: self.maxLength)
        fallback = FullSequenceScorer(model: model, maxLength: maxLength, rowBudget: rowBudget)
    }

    /// `count` scorers for data-parallel evaluation (`Evaluator.score(_:scorers:)`), each on its
    /// own replica of `model`; a single one when the model's layers cannot be shared between
    /// threads (`Llama.replica`).
    public static func workers(_ count: Int = ProcessInfo.processInfo.activeProcessorCount, model: Llama,
                               maxLength: Int = 2048) -> [ModelScorer] {
        var models = [model]
        while models.count < count, let replica = model.replica() { models.append(replica) }
        return models.map { ModelScorer(model: $0, maxLength: maxLength) }
    }

    /// Requests sharing one context.
    private struct Group {
        var context: [Int]
        var members: [Int]
    }

    public func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
        prefix = []
        var results = [LogLikelihoodResult?](repeating: nil, count: requests.count)
        var groups: [Group] = [], alone: [Int] = []
        for (i, r) in requests.enumerated() {
            if r.context.isEmpty || r.continuation.isEmpty || r.context.count + r.continuation.count > maxLength + 1 {
                alone.append(i)
            } else if groups.last?.context == r.context {
                groups[groups.count - 1].members.append(i)
            } else {
                groups.append(Group(context: r.context, members: [i]))
            }
        }
        for (i, r) in zip(alone, try fallback.score(alone.map { requests[$0] })) { results[i] = r }

        var first = 0
        while first < groups.count {
            // Grow the wave while the rows not covered by the common prefix fit the budget. Sorted
            // input makes the prefix shared by groups first...j that of the first and the j-th.
            var shared = groups[first].context.count - 1, rows = 1, end = first + 1
            while end < groups.count && end - first < contextSlots {
                let c = groups[end].context
                let s = Swift.min(shared, Self.commonPrefix(groups[first].context, c), c.count - 1)
                let r = rows + (shared - s) * (end - first) + c.count - s
                if r > rowBudget { break }
                shared = s
                rows = r
                end += 1
            }
            try scoreWave(Array(groups[first..<end]), shared: shared, requests, into: &results)
            first = end
        }
        return results.map { $0! }
    }

    private func scoreWave(_ wave: [Group], shared: Int, _ requests: [LogLikelihoodRequest],
                           into results: inout [LogLikelihoodResult?]) throws {
        try extendPrefix(Array(wave[0].context.prefix(shared)))

        // Each context's remainder in its own slot; its last row scores every first continuation token.
        var batch = TokenBatch()
        var lastRows: [Int] = []
        for (n, g) in wave.enumerated() {
            let slot = 1 + n
            cache.reset(slot: slot)
            if shared > 0 { cache.fork(slot: slot, from: 0, length: shared) }
            batch.append(Array(g.context[shared...]), slot: slot)
            lastRows.append(batch.rowCount - 1)
        }
        var sums = [Double](repeating: 0, count: requests.count)
        var greedy = [Bool](repeating: true, count: requests.count)
        try model.forward(batch, cache: cache, logitRows: lastRows) { n, logits in
            let lse = SIMDMath.logSumExp(logits.baseAddress!, logits.count)
            let best = SIMDMath.argmax(logits.baseAddress!, logits.count)
            for r in wave[n].members {
                let target = requests[r].continuation[0]
                sums[r] = Double(logits[target] - lse)
                greedy[r] = best == target
            }
        }
        ownTokens += batch.rowCount

        var pending: [(request: Int, parent: Int)] = []
        for (n, g) in wave.enumerated() {
            for r in g.members where requests[r].continuation.count > 1 { pending.append((r, 1 + n)) }
        }
        var k = 0
        while k < pending.count {
            k = try scoreContinuations(pending, from: k, requests, sums: &sums, greedy: &greedy)
        }
        for g in wave { for r in g.members { results[r] = LogLikelihoodResult(logLikelihood: sums[r], isGreedy: greedy[r]) } }
    }

    /// Runs continuations `pending[start...]` (as many as fit `forkSlots` and `rowBudget`), each in
    /// a slot forked from its context's slot; returns the index of the first one not run.
    private func scoreContinuations(_ pending: [(request: Int, parent: Int)], from start: Int, _ requests: [LogLikelihoodRequest],
                                    sums: inout [Double], greedy: inout [Bool]) throws -> Int {
        var batch = TokenBatch()
        var rows: [Int] = [], owners: [(request: Int, target: Int)] = []
        var end = start
        while end < pending.count && end - start < forkSlots {
            let (r, parent) = pending[end]
            let cont = requests[r].continuation
            guard end == start || batch.rowCount + cont.count - 1 <= rowBudget else { break }
            let slot = 1 + contextSlots + (end - start)
            cache.reset(slot: slot)
            cache.fork(slot: slot, from: parent, length: requests[r].context.count)
            let offset = batch.rowCount
            batch.append(Array(cont.dropLast()), slot: slot)
            for t in 1..<cont.count {
                rows.append(offset + t - 1)
                owners.append((r, cont[t]))
            }
            end += 1
        }
        try model.forward(batch, cache: cache, logitRows: rows) { i, logits in
            let (r, target) = owners[i]
            sums[r] += Double(FullSequenceScorer.logProb(of: target, in: logits))
            if SIMDMath.argmax(logits.baseAddress!, logits.count) != target { greedy[r] = false }
        }
        ownTokens += batch.rowCount
        return end
    }

    /// Makes slot 0 hold exactly `tokens`, computing only what it does not already share with them.
    private func extendPrefix(_ tokens: [Int]) throws {
        let common = Self.commonPrefix(prefix, tokens)
        // Slots forked from slot 0 are reset before every use, so truncating under them is safe.
        cache.truncate(slot: 0, to: common)
        prefix = Array(tokens.prefix(common))
        guard common < tokens.count else { return }
        let fresh = Array(tokens[common...])
        try model.forward(TokenBatch(fresh), cache: cache, logitRows: []) { _, _ in }
        ownTokens += fresh.count
        prefix = tokens
    }

    static func commonPrefix(_ a: [Int], _ b: [Int]) -> Int {
        var n = 0
        let m = Swift.min(a.count, b.count)
        while n < m && a[n] == b[n] { n += 1 }
        return n
    }
}
