/// HellaSwag, lm-eval `hellaswag` (validation split, 10,042 items), with lm-eval's
/// `utils.process_docs` applied exactly — including its quirks (a cleaned ending may start with a
/// space, giving a two-space continuation; "  " is collapsed in one pass only).
public struct HellaSwag: MultipleChoiceTask {
    public let numFewShot: Int

    /// `numFewShot` must be 0: the exemplar pool (train split) is not shipped.
    public init(numFewShot: Int = 0) throws {
        self.numFewShot = numFewShot
        try Self.requireZeroShot("hellaswag", numFewShot)
    }

    public var name: String { "hellaswag" }
    public var version: String { "1.0" }
    public var dataFiles: [String] { ["hellaswag/hellaswag_validation.jsonl.gz"] }
    public var metrics: [Metric] { [.acc, .accNorm] }
    public var reportedMetric: Metric { .accNorm }

    private struct Row: Decodable {
        let activity_label: String, ctx_a: String, ctx_b: String, endings: [String], label: String
    }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        let file = dataFiles[0]
        return try JSONLines.decode(Row.self, from: data.bytes(file), file: file).enumerated().map { i, r in
            guard let gold = Int(r.label), r.endings.indices.contains(gold) else {
                throw EvaluationError.malformedRecord(file: file, line: i + 1, field: "label",
                                                      reason: "'\(r.label)' is not an index into \(r.endings.count) endings")
            }
            let ctx = r.ctx_a + " " + PythonText.capitalize(r.ctx_b)
            return .sharedContext(id: "\(name)/\(i)", subtask: name, context: Self.clean(r.activity_label + ": " + ctx),
                                  choices: r.endings.map(Self.clean), gold: gold)
        }
    }

    /// lm-eval's `preprocess`: strip, " [title]" → ". ", delete `\[.*?\]` tags, then one pass of
    /// "  " → " ". The order matters and is kept.
    static func clean(_ text: String) -> String {
        var t = PythonText.strip(text)
        t = PythonText.replace(t, " [title]", ". ")
        t = PythonText.removeBracketedTags(t)
        return PythonText.replace(t, "  ", " ")
    }
}
