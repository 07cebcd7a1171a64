/// A metric's aggregate over some items: the mean and lm-eval's stderr.
public struct MetricSummary: Codable, Equatable, Sendable {
    public let value: Double
    public let stderr: Double
}

/// The aggregate for one task, subtask or group, in lm-eval's layout when encoded:
/// `{"alias": …, "acc,none": …, "acc_stderr,none": …, "sample_len": …}`.
public struct ResultEntry: Codable, Equatable, Sendable {
    public let alias: String
    public let metrics: [Metric: MetricSummary]
    public let sampleCount: Int

    public init(alias: String, metrics: [Metric: MetricSummary], sampleCount: Int) {
        self.alias = alias
        self.metrics = metrics
        self.sampleCount = sampleCount
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(alias, forKey: Key("alias"))
        for metric in Metric.allCases {
            guard let m = metrics[metric] else { continue }
            try c.encode(m.value, forKey: Key("\(metric.rawValue),none"))
            // JSON has no NaN: a one-item stderr is written as "N/A", as lm-eval does.
            if m.stderr.isFinite { try c.encode(m.stderr, forKey: Key("\(metric.rawValue)_stderr,none")) }
            else { try c.encode("N/A", forKey: Key("\(metric.rawValue)_stderr,none")) }
        }
        try c.encode(sampleCount, forKey: Key("sample_len"))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        alias = try c.decode(String.self, forKey: Key("alias"))
        sampleCount = try c.decode(Int.self, forKey: Key("sample_len"))
        var m: [Metric: MetricSummary] = [:]
        for metric in Metric.allCases {
            guard let v = try c.decodeIfPresent(Double.self, forKey: Key("\(metric.rawValue),none")) else { continue }
            let se = (try? c.decode(Double.self, forKey: Key("\(metric.rawValue)_stderr,none"))) ?? .nan
            m[metric] = MetricSummary(value: v, stderr: se)
        }
        metrics = m
    }
}

/// Settings that produced a run; recorded with every number (spec §4: BOS and the harness matched).
public struct RunConfig: Codable, Equatable, Sendable {
    public let model: String
    public let addBOS: Bool
    /// The lm-eval code whose formatting and metrics this reproduces.
    public let harness: String
    /// `ItemSelection.canonical`: "all" for the full set.
    public let items: String

    public init(model: String, addBOS: Bool, items: ItemSelection) {
        self.model = model
        self.addBOS = addBOS
        self.harness = "lm-evaluation-harness@4e7e0d47 (task YAMLs of lm-eval 0.4.13)"
        self.items = items.canonical
    }
}

/// One task evaluated by one model: lm-eval-style aggregates plus every item's record.
public struct TaskRun: Codable, Equatable, Sendable {
    public let task: String
    /// Keyed by task / subtask / group name, like lm-eval's "results".
    public let results: [String: ResultEntry]
    public let versions: [String: String]
    public let nShot: [String: Int]
    public let config: RunConfig
    /// The metric papers quote for this task.
    public let reportedMetric: Metric
    public let samples: [ItemRecord]

    enum CodingKeys: String, CodingKey {
        case task, results, versions, nShot = "n-shot", config, reportedMetric = "reported_metric", samples
    }

    /// The headline entry (the task itself, or its all-subjects group).
    public var headline: ResultEntry? { results[task] }

    /// The headline value of the metric papers quote.
    public func reportedValue() throws -> Double {
        guard let v = headline?.metrics[reportedMetric]?.value else { throw EvaluationError.missingTaskResult(task: task) }
        return v
    }
}
