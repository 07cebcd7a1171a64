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
        precondition(!scorers.isEmpty, "Evaluator.score needs at least one scorer")
        var requests: [LogLikelihoodRequest] = []
        var firstRequest: [Int] = []
        for d in documents {
            firstRequest.append(requests.count)
            requests += encoder.encode(document: d.requests)
        }
        let order = requests.indices.sorted { i, j in
            let a = requests[i], b = requests[j]
            if a.context != b.context { return a.context.lexicographicallyPrecedes(b.context) }
            if a.continuation != b.continuation { return a.continuation.lexicographicallyPrecedes(b.continuation) }
            return i < j
        }
        let journaled = try journal?.open(requests: requests, order: order, batchSize: batchSize) ?? [:]
        var results = [LogLikelihoodResult?](repeating: nil, count: requests.count)
        var done = 0
        for (start, scored) in journaled {
            for (k, r) in zip(order[start...], scored) { results[k] = r }
            done += scored.count
        }
        progress?(done * documents.count / max(order.count, 1), documents.count)

        let starts = stride(from: 0, to: order.count, by: batchSize).filter { journaled[$0] == nil }
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
                    progress?(done * documents.count / order.count, documents.count)
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
        return documents.enumerated().map { i, d in
            ItemRecord(document: d, results: (0..<d.requests.count).map { results[firstRequest[i] + $0]! })
        }
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
