import Foundation
import Tensor

/// Runs a task through a scorer: encodes every request the lm-eval way, orders them so shared
/// contexts are adjacent, scores them in batches, and aggregates per subtask and group.
public struct Evaluator {
    public let encoder: LMEvalEncoder
    /// Requests per `score` call; also the progress granularity.
    public var batchSize: Int
    /// Called after each batch with (documents done, documents in all); requests are scored in
    /// context order, not document order, so "done" is the scored requests' share of the documents.
    /// Its first call reports the documents a journal resumed (0 without one). With several
    /// workers it is called on their threads, one call at a time.
    public var progress: ((Int, Int) -> Void)?
    /// Where scored batches are recorded as they finish, so a stopped run resumes (`ScoreJournal`).
    public var journal: ScoreJournal?

    public init(encoder: LMEvalEncoder, batchSize: Int = 512, journal: ScoreJournal? = nil, progress: ((Int, Int) -> Void)? = nil) {
        self.encoder = encoder
        self.batchSize = batchSize
        self.journal = journal
        self.progress = progress
    }

    /// Evaluates `task` on the documents `items` selects.
    public func run(_ task: any MultipleChoiceTask, data: DataDirectory, scorer: any LogLikelihoodScorer,
                    model: String, items: ItemSelection = .all) throws -> TaskRun {
        try run(task, data: data, scorers: [scorer], model: model, items: items)
    }

    /// Evaluates `task` with the batches spread over `scorers` (`score(_:scorers:)`).
    public func run(_ task: any MultipleChoiceTask, data: DataDirectory, scorers: [any LogLikelihoodScorer],
                    model: String, items: ItemSelection = .all) throws -> TaskRun {
        let documents = try items.select(from: task.documents(from: data), task: task.name)
        let records = try score(documents, scorers: scorers)
        return Self.aggregate(task, items: records, groups: try task.groups(from: data),
                              config: RunConfig(model: model, addBOS: encoder.addBOS, items: items))
    }

    /// Per-document records, scored in context-sorted order and returned in document order.
    public func score(_ documents: [TaskDocument], scorer: any LogLikelihoodScorer) throws -> [ItemRecord] {
        try score(documents, scorers: [scorer])
    }

    /// Per-document records, the fixed batches of the context-sorted order handed out to `scorers`
    /// on as many threads, OpenBLAS held to one thread meanwhile (so the machine runs
    /// `scorers.count` threads). OpenBLAS's rounding changes with its thread count, and batches are
    /// independent, so with scorers whose calls are self-contained (`ModelScorer`) the results are
    /// the same bits for any number of workers, in any order, and after a journal resume. One
    /// single-threaded worker per core also uses the cores better than one worker on several BLAS
    /// threads: a packed batch's GEMMs are small, and the rest of the forward (norms, RoPE,
    /// attention's softmax) runs on one thread.
    public func score(_ documents: [TaskDocument], scorers: [any LogLikelihoodScorer]) throws -> [ItemRecord] {
        let requests = Requests(documents, encoder: encoder)
        let results = try scoreBatches(requests, scorers: scorers, shard: nil)
        return documents.enumerated().map { i, d in
            ItemRecord(document: d, results: (0..<d.requests.count).map { results[requests.first[i] + $0]! })
        }
    }

    /// Scores only `shard`'s block of the batches `score(_:scorers:)` would score, recording them
    /// in `journal` (required: it is the shard's result). A run whose journal holds every shard's
    /// batches (`ScoreJournal.merge`) then scores nothing and returns the whole run's records.
    public func score(_ documents: [TaskDocument], scorers: [any LogLikelihoodScorer], shard: Shard) throws {
        precondition(journal != nil, "a shard's batches are its journal")
        _ = try scoreBatches(Requests(documents, encoder: encoder), scorers: scorers, shard: shard)
    }

    /// The documents' requests in document order, with the order they are scored in.
    private struct Requests {
        var all: [LogLikelihoodRequest] = []
        /// Each document's first request.
        var first: [Int] = []
        var order: [Int] = []
        let documents: Int

        init(_ documents: [TaskDocument], encoder: LMEvalEncoder) {
            self.documents = documents.count
            for d in documents {
                first.append(all.count)
                all += encoder.encode(document: d.requests)
            }
            let requests = all
            order = all.indices.sorted { i, j in
                let a = requests[i], b = requests[j]
                if a.context != b.context { return a.context.lexicographicallyPrecedes(b.context) }
                if a.continuation != b.continuation { return a.continuation.lexicographicallyPrecedes(b.continuation) }
                return i < j
            }
        }
    }

    /// Scores the batches of `shard` (all when nil) not yet in the journal; returns every result
    /// known (journaled or scored), by request.
    private func scoreBatches(_ r: Requests, scorers: [any LogLikelihoodScorer], shard: Shard?) throws -> [LogLikelihoodResult?] {
        precondition(!scorers.isEmpty, "Evaluator.score needs at least one scorer")
        let (requests, order) = (r.all, r.order)
        let journaled = try journal?.open(requests: requests, order: order, batchSize: batchSize) ?? [:]
        var results = [LogLikelihoodResult?](repeating: nil, count: requests.count)
        for (start, scored) in journaled {
            for (k, r) in zip(order[start...], scored) { results[k] = r }
        }
        let batches = Array(stride(from: 0, to: order.count, by: batchSize))
        let owned = shard.map { Array(batches[$0.units(of: batches.count)]) } ?? batches
        let starts = owned.filter { journaled[$0] == nil }
        // Progress counts the requests of the batches this call owns.
        func size(_ start: Int) -> Int { min(batchSize, order.count - start) }
        let total = owned.reduce(0) { $0 + size($1) }
        var done = total - starts.reduce(0) { $0 + size($1) }
        progress?(done * r.documents / max(total, 1), r.documents)

        let lock = NSLock()
        var next = 0
        var failure: Error?
        // One worker's loop: take the next batch, score it, record it; stop at the first error.
        func work(_ scorer: any LogLikelihoodScorer) {
            while true {
                lock.lock()
                guard failure == nil, next < starts.count else { lock.unlock(); return }
                let start = starts[next]
                next += 1
                lock.unlock()
                let batch = Array(order[start..<min(start + batchSize, order.count)])
                do {
                    let scored = try scorer.score(batch.map { requests[$0] })
                    guard scored.count == batch.count else {
                        throw EvaluationError.scorerResultCount(expected: batch.count, found: scored.count)
                    }
                    lock.lock()
                    defer { lock.unlock() }
                    try journal?.append(start: start, results: scored)
                    for (k, r) in zip(batch, scored) { results[k] = r }
                    done += batch.count
                    progress?(done * r.documents / total, r.documents)
                } catch {
                    lock.lock()
                    if failure == nil { failure = error }
                    lock.unlock()
                    return
                }
            }
        }
        let blasThreads = BLAS.threads
        BLAS.setThreads(1)
        // One iteration runs on the calling thread.
        DispatchQueue.concurrentPerform(iterations: scorers.count) { work(scorers[$0]) }
        BLAS.setThreads(blasThreads)
        if let failure { throw failure }
        return results
    }

    /// lm-eval's aggregation: each subtask's mean and stderr, then each group's size-weighted mean
    /// and pooled stderr over its subtasks.
    public static func aggregate(_ task: any MultipleChoiceTask, items: [ItemRecord], groups: [TaskGroup], config: RunConfig) -> TaskRun {
        var bySubtask: [String: [ItemRecord]] = [:]
        for item in items { bySubtask[item.subtask, default: []].append(item) }
        var results: [String: ResultEntry] = [:]
        for (name, members) in bySubtask {
            var m: [Metric: MetricSummary] = [:]
            for metric in task.metrics {
                let values = members.map { $0.value(metric) }
                m[metric] = MetricSummary(value: Metrics.mean(values), stderr: Metrics.meanStderr(values))
            }
            results[name] = ResultEntry(alias: name, metrics: m, sampleCount: members.count)
        }
        for group in groups {
            let parts = group.subtasks.compactMap { results[$0] }
            guard !parts.isEmpty else { continue }
            let sizes = parts.map(\.sampleCount)
            var m: [Metric: MetricSummary] = [:]
            for metric in task.metrics {
                m[metric] = MetricSummary(value: Metrics.sizeWeightedMean(parts.map { $0.metrics[metric]!.value }, sizes: sizes),
                                          stderr: Metrics.pooledStderr(parts.map { $0.metrics[metric]!.stderr }, sizes: sizes))
            }
            results[group.name] = ResultEntry(alias: group.name, metrics: m, sampleCount: sizes.reduce(0, +))
        }
        var versions: [String: String] = [:], nShot: [String: Int] = [:]
        for name in results.keys { versions[name] = task.version; nShot[name] = task.numFewShot }
        return TaskRun(task: task.name, results: results, versions: versions, nShot: nShot, config: config,
                       reportedMetric: task.reportedMetric, samples: items)
    }
}
