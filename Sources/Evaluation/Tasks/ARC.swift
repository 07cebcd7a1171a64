/// AI2 Reasoning Challenge, lm-eval `arc_easy` / `arc_challenge` (test split, 2,376 / 1,172 items).
/// Prompt "Question: <question>\nAnswer:", continuations " " + choice text (3–5 choices).
public struct ARC: MultipleChoiceTask {
    public enum Subset: String, Sendable { case easy, challenge }
    public let subset: Subset
    public let numFewShot: Int

    /// `numFewShot` must be 0: lm-eval draws ARC exemplars from the train split, which we do not ship.
    public init(_ subset: Subset, numFewShot: Int = 0) throws {
        self.subset = subset
        self.numFewShot = numFewShot
        try Self.requireZeroShot(name, numFewShot)
    }

    public var name: String { "arc_\(subset.rawValue)" }
    public var version: String { "1.0" }
    public var dataFiles: [String] { ["arc/arc_\(subset.rawValue)_test.jsonl"] }
    public var metrics: [Metric] { [.acc, .accNorm] }
    /// Papers quote acc_norm for ARC-Challenge and usually acc for ARC-Easy (spec §2).
    public var reportedMetric: Metric { subset == .challenge ? .accNorm : .acc }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        try QuestionChoicesRecord.load(dataFiles[0], from: data).enumerated().map { i, r in
            .sharedContext(id: "\(name)/\(i)", subtask: name, context: "Question: \(r.question)\nAnswer:",
                           choices: r.choices, gold: r.gold)
        }
    }
}
