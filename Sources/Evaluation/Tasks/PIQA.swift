/// Physical Interaction QA, lm-eval `piqa` (validation split, 1,838 items; test labels are hidden).
/// Prompt "Question: <goal>\nAnswer:", choices [sol1, sol2], gold = label.
public struct PIQA: MultipleChoiceTask {
    public let numFewShot: Int

    /// `numFewShot` must be 0: the exemplar pool (train split) is not shipped.
    public init(numFewShot: Int = 0) throws {
        self.numFewShot = numFewShot
        try Self.requireZeroShot("piqa", numFewShot)
    }

    public var name: String { "piqa" }
    public var version: String { "1.0" }
    public var dataFiles: [String] { ["piqa/piqa_validation.jsonl"] }
    public var metrics: [Metric] { [.acc, .accNorm] }
    public var reportedMetric: Metric { .acc }

    private struct Row: Decodable { let goal: String, sol1: String, sol2: String, label: Int }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        let file = dataFiles[0]
        return try JSONLines.decode(Row.self, from: data.bytes(file), file: file).enumerated().map { i, r in
            guard r.label == 0 || r.label == 1 else {
                throw EvaluationError.malformedRecord(file: file, line: i + 1, field: "label", reason: "\(r.label) is not 0 or 1")
            }
            return .sharedContext(id: "\(name)/\(i)", subtask: name, context: "Question: \(r.goal)\nAnswer:",
                                  choices: [r.sol1, r.sol2], gold: r.label)
        }
    }
}
