/// BoolQ, lm-eval `boolq` (super_glue, validation split, 3,270 items). Prompt
/// "<passage>\nQuestion: <question>?\nAnswer:" (lm-eval adds the "?"), continuations " no" / " yes",
/// gold = int(answer).
public struct BoolQ: MultipleChoiceTask {
    public let numFewShot: Int

    /// `numFewShot` must be 0: the exemplar pool (train split) is not shipped.
    public init(numFewShot: Int = 0) throws {
        self.numFewShot = numFewShot
        try Self.requireZeroShot("boolq", numFewShot)
    }

    public var name: String { "boolq" }
    public var version: String { "2.0" }
    public var dataFiles: [String] { ["boolq/boolq_validation.jsonl.gz"] }
    public var metrics: [Metric] { [.acc] }
    public var reportedMetric: Metric { .acc }

    private struct Row: Decodable { let question: String, answer: Bool, passage: String }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        let file = dataFiles[0]
        return try JSONLines.decode(Row.self, from: data.bytes(file), file: file).enumerated().map { i, r in
            .sharedContext(id: "\(name)/\(i)", subtask: name, context: "\(r.passage)\nQuestion: \(r.question)?\nAnswer:",
                           choices: ["no", "yes"], gold: r.answer ? 1 : 0)
        }
    }
}
