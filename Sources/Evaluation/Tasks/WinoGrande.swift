/// WinoGrande, lm-eval `winogrande` (winogrande_xl, validation split, 1,267 items), scored the
/// "partial" way: each option fills the blank to make its own *context* (the sentence up to "_" plus
/// the option, nothing added), and both share the *continuation* " " + the stripped text after "_".
/// Gold = 0 when answer is "1", else 1.
public struct WinoGrande: MultipleChoiceTask {
    public let numFewShot: Int

    /// `numFewShot` must be 0: the exemplar pool (train split) is not shipped.
    public init(numFewShot: Int = 0) throws {
        self.numFewShot = numFewShot
        try Self.requireZeroShot("winogrande", numFewShot)
    }

    public var name: String { "winogrande" }
    public var version: String { "1.0" }
    public var dataFiles: [String] { ["winogrande/winogrande_xl_validation.jsonl"] }
    /// acc_norm would equal acc (the continuation is shared), so lm-eval enables only acc.
    public var metrics: [Metric] { [.acc] }
    public var reportedMetric: Metric { .acc }

    private struct Row: Decodable { let sentence: String, option1: String, option2: String, answer: String }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        let file = dataFiles[0]
        return try JSONLines.decode(Row.self, from: data.bytes(file), file: file).enumerated().map { i, r in
            let scalars = Substring(r.sentence).unicodeScalars
            guard let blank = scalars.firstIndex(of: "_") else {
                throw EvaluationError.malformedRecord(file: file, line: i + 1, field: "sentence", reason: "no '_' blank")
            }
            guard r.answer == "1" || r.answer == "2" else {
                throw EvaluationError.malformedRecord(file: file, line: i + 1, field: "answer", reason: "'\(r.answer)' is not \"1\" or \"2\"")
            }
            let prefix = String(Substring(scalars[..<blank]))
            let continuation = " " + PythonText.strip(scalars[scalars.index(after: blank)...])
            // doc_to_choice returns the filled contexts, so those (not the options) are the "choices".
            let contexts = [prefix + r.option1, prefix + r.option2]
            return TaskDocument(id: "\(name)/\(i)", subtask: name,
                                requests: contexts.map { TextRequest(context: $0, continuation: continuation) },
                                choices: contexts, gold: r.answer == "1" ? 0 : 1)
        }
    }
}
