/// The row schema shared by our ARC and OpenBookQA files (see SOURCES.md): the question (OBQA: the
/// question_stem), the choice texts in their original order and the gold index.
struct QuestionChoicesRecord: Decodable {
    let id: String
    let question: String
    let choices: [String]
    let gold: Int

    /// Rows of `file`, with `gold` checked against the number of choices.
    static func load(_ file: String, from data: DataDirectory) throws -> [QuestionChoicesRecord] {
        let rows = try JSONLines.decode(QuestionChoicesRecord.self, from: data.bytes(file), file: file)
        for (i, r) in rows.enumerated() where !r.choices.indices.contains(r.gold) || r.choices.count < 2 {
            throw EvaluationError.malformedRecord(file: file, line: i + 1, field: "gold",
                                                  reason: "\(r.gold) is not an index into \(r.choices.count) choices")
        }
        return rows
    }
}
