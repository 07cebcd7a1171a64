/// Two runs of the same task on the same items (e.g. a quantized model against its base), compared
/// item by item on one metric.
public struct RunComparison: Codable, Equatable, Sendable {
    public let task: String
    public let metric: Metric
    public let items: Int
    /// Headline values (plain mean over the paired items).
    public let baseline: Double
    public let candidate: Double
    /// Items right only in the baseline / only in the candidate.
    public let onlyBaseline: Int
    public let onlyCandidate: Int
    public let mcnemarP: Double
    public let bootstrap: PairedComparison.Bootstrap

    /// Pairs `baseline` and `candidate`, which must hold the same items (ids, in the same order),
    /// i.e. the same task identity and subset.
    public init(baseline: TaskRun, candidate: TaskRun, metric: Metric, resamples: Int = 10_000, seed: UInt64 = 1234) throws {
        guard baseline.task == candidate.task, baseline.config.items == candidate.config.items,
              baseline.versions[baseline.task] == candidate.versions[candidate.task] else {
            throw EvaluationError.mismatchedRuns(reason: "\(baseline.task) [\(baseline.config.items)] vs \(candidate.task) [\(candidate.config.items)]")
        }
        guard baseline.samples.map(\.id) == candidate.samples.map(\.id) else {
            throw EvaluationError.mismatchedRuns(reason: "item ids differ")
        }
        let a = baseline.samples.map { $0.value(metric) }, b = candidate.samples.map { $0.value(metric) }
        task = baseline.task
        self.metric = metric
        items = a.count
        self.baseline = Metrics.mean(a)
        self.candidate = Metrics.mean(b)
        onlyBaseline = zip(a, b).filter { $0 > $1 }.count
        onlyCandidate = zip(a, b).filter { $0 < $1 }.count
        mcnemarP = PairedComparison.mcnemarExact(b: onlyBaseline, c: onlyCandidate)
        bootstrap = try PairedComparison.pairedBootstrap(a, b, resamples: resamples, seed: seed)
    }
}
