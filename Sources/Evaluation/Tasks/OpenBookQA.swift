/// OpenBookQA, lm-eval `openbookqa` (config main, test split, 500 items). The context is the bare
/// question stem, with no "Question:"/"Answer:" wrapper: the stem is usually an unfinished sentence
/// that " " + choice completes.
public struct OpenBookQA: MultipleChoiceTask {
    public let numFewShot: Int

    /// `numFewShot` must be 0: the exemplar pool (train split) is not shipped.
    public init(numFewShot: Int = 0) throws {
        self.numFewShot = numFewShot
        try Self.requireZeroShot("openbookqa", numFewShot)
    }

    public var name: String { "openbookqa" }
    public var version: String { "1.0" }
    public var dataFiles: [String] { ["openbookqa/openbookqa_main_test.jsonl"] }
    public var metrics: [Metric] { [.acc, .accNorm] }
    public var reportedMetric: Metric { .accNorm }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        try QuestionChoicesRecord.load(dataFiles[0], from: data).enumerated().map { i, r in
            .sharedContext(id: "\(name)/\(i)", subtask: name, context: r.question, choices: r.choices, gold: r.gold)
        }
    }
}
