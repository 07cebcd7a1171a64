import Foundation

/// Everything one `qaft eval` invocation measured, written in the layout of lm-eval's results file:
/// `results` keyed by task / subtask / group with `"<metric>,none"` and `"<metric>_stderr,none"`
/// entries, `versions`, `n-shot`, `n-samples`, `config`, plus the CSQA-7 average when all seven
/// commonsense tasks ran. Per-item records are not in it: they go to the samples file (an array of
/// `TaskRun`, which `qaft compare` pairs) and, for generation tasks, the generations file.
public struct EvaluationReport: Encodable {
    public let choiceRuns: [TaskRun]
    public let perplexityRuns: [PerplexityRun]
    public let generationRuns: [GenerationRun]
    /// Wall-clock seconds per task name.
    public let seconds: [String: Double]
    /// Settings of the invocation not already in each run's `RunConfig` (e.g. max_length, batch).
    public let settings: [String: String]

    public init(choiceRuns: [TaskRun], perplexityRuns: [PerplexityRun], generationRuns: [GenerationRun] = [],
                seconds: [String: Double], settings: [String: String]) {
        self.choiceRuns = choiceRuns
        self.perplexityRuns = perplexityRuns
        self.generationRuns = generationRuns
        self.seconds = seconds
        self.settings = settings
    }

    /// The CSQA-7 average, when every commonsense task ran (one invocation uses one selection for
    /// all its tasks, recorded per task under config.items).
    public var commonsenseAverage: Double? { try? CommonsenseAverage.value(choiceRuns) }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        var results = c.nestedContainer(keyedBy: Key.self, forKey: Key("results"))
        for run in choiceRuns {
            for (name, entry) in run.results.sorted(by: { $0.key < $1.key }) { try results.encode(entry, forKey: Key(name)) }
        }
        for run in perplexityRuns {
            var e = results.nestedContainer(keyedBy: Key.self, forKey: Key(run.task))
            try e.encode(run.task, forKey: Key("alias"))
            for (metric, value) in run.metrics.sorted(by: { $0.key < $1.key }) { try e.encode(value, forKey: Key("\(metric),none")) }
            try e.encode(run.protocolDescription, forKey: Key("protocol"))
        }
        for run in generationRuns {
            var e = results.nestedContainer(keyedBy: Key.self, forKey: Key(run.task))
            try e.encode(run.task, forKey: Key("alias"))
            try e.encode(run.accuracy, forKey: Key("exact_match,none"))
            if let se = run.stderr { try e.encode(se, forKey: Key("exact_match_stderr,none")) }
            else { try e.encode("N/A", forKey: Key("exact_match_stderr,none")) }
            try e.encode(run.evaluationProtocol.canonical, forKey: Key("protocol"))
        }
        if let csqa = commonsenseAverage { try c.encode(csqa, forKey: Key("csqa7")) }
        var versions: [String: String] = [:], shots: [String: Int] = [:], items: [String: String] = [:]
        var samples: [String: [String: Int]] = [:]
        for run in choiceRuns {
            versions.merge(run.versions) { a, _ in a }
            shots.merge(run.nShot) { a, _ in a }
            items[run.task] = run.config.items
            samples[run.task] = ["effective": run.samples.count]
        }
        for run in perplexityRuns {
            items[run.task] = run.config.items
            samples[run.task] = ["effective": run.documents]
        }
        for run in generationRuns {
            versions[run.task] = run.evaluationProtocol.version
            shots[run.task] = 0
            items[run.task] = run.items
            samples[run.task] = ["effective": run.samples.count]
        }
        try c.encode(versions, forKey: Key("versions"))
        try c.encode(shots, forKey: Key("n-shot"))
        try c.encode(samples, forKey: Key("n-samples"))
        var config = c.nestedContainer(keyedBy: Key.self, forKey: Key("config"))
        if let first = (choiceRuns.map(\.config) + perplexityRuns.map(\.config)).first {
            try config.encode(first.model, forKey: Key("model"))
            try config.encode(first.addBOS, forKey: Key("add_bos_token"))
            try config.encode(first.harness, forKey: Key("harness"))
        }
        try config.encode(items, forKey: Key("items"))
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { try config.encode(v, forKey: Key(k)) }
        try c.encode(seconds, forKey: Key("task_seconds"))
        try c.encode(seconds.values.reduce(0, +), forKey: Key("total_evaluation_time_seconds"))
    }
}
