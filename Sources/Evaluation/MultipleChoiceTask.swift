/// The metrics lm-eval computes for a multiple-choice document (see `Metrics`).
public enum Metric: String, Codable, CaseIterable, Sendable {
    /// argmax of the summed continuation log-likelihoods equals gold.
    case acc
    /// argmax of log-likelihood ÷ the choice's length in code points (Python `len`) equals gold.
    case accNorm = "acc_norm"
}

/// One (context, continuation) pair whose log-likelihood lm-eval asks for, as strings.
public struct TextRequest: Hashable, Codable, Sendable {
    public let context: String
    public let continuation: String
    public init(context: String, continuation: String) {
        self.context = context
        self.continuation = continuation
    }
}

/// One evaluated document: its requests (one per choice), the choice strings `doc_to_choice` returns
/// (acc_norm divides by their length) and the gold index.
public struct TaskDocument: Equatable, Sendable {
    /// Stable across runs and machines: the subtask plus the row's position in its file.
    public let id: String
    /// The unit results are first averaged over (an MMLU subject; else the task name). Subsets are
    /// stratified by it.
    public let subtask: String
    public let requests: [TextRequest]
    public let choices: [String]
    public let gold: Int

    public init(id: String, subtask: String, requests: [TextRequest], choices: [String], gold: Int) {
        precondition(requests.count == choices.count, "one request per choice")
        precondition(choices.indices.contains(gold), "gold index \(gold) outside \(choices.count) choices")
        self.id = id
        self.subtask = subtask
        self.requests = requests
        self.choices = choices
        self.gold = gold
    }

    /// The common shape: one context, each choice scored as `" " + choice` (lm-eval's default
    /// target_delimiter).
    public static func sharedContext(id: String, subtask: String, context: String, choices: [String], gold: Int) -> TaskDocument {
        TaskDocument(id: id, subtask: subtask,
                     requests: choices.map { TextRequest(context: context, continuation: " " + $0) },
                     choices: choices, gold: gold)
    }
}

/// A size-weighted aggregate over subtasks (lm-eval's `weight_by_size: true` group).
public struct TaskGroup: Equatable, Sendable {
    public let name: String
    public let subtasks: [String]
}

/// A multiple-choice benchmark, described as data: where its files are, how each row becomes
/// requests, which metrics it reports, and how subtasks aggregate. Adding a task is one file
/// conforming to this and one line in `TaskRegistry`.
public protocol MultipleChoiceTask: Sendable {
    /// lm-eval's task (or group) name, e.g. "arc_easy", "mmlu".
    var name: String { get }
    /// The `metadata.version` of the lm-eval YAML this reproduces; goes into every result identity.
    var version: String { get }
    var numFewShot: Int { get }
    /// Files under the data directory this task reads (all verified by sha256).
    var dataFiles: [String] { get }
    /// Metrics lm-eval enables for the task.
    var metrics: [Metric] { get }
    /// The metric papers quote for this task (used by `CommonsenseAverage`).
    var reportedMetric: Metric { get }
    /// Size-weighted groups reported besides each subtask; empty for single tasks.
    func groups(from data: DataDirectory) throws -> [TaskGroup]
    /// All evaluation documents in file order.
    func documents(from data: DataDirectory) throws -> [TaskDocument]
}

extension MultipleChoiceTask {
    public func groups(from data: DataDirectory) throws -> [TaskGroup] { [] }

    /// Tasks that ship no few-shot pool reject k > 0 instead of silently running 0-shot.
    static func requireZeroShot(_ name: String, _ k: Int) throws {
        if k != 0 { throw EvaluationError.fewShotUnavailable(task: name, requested: k, available: 0) }
    }
}
