/// MMLU (Hendrycks et al.), 57 subjects, test split (14,042 items), in one of two lm-eval prompt
/// formats:
/// - `.letters` = lm-eval `mmlu` (the paper-standard one): header "The following are multiple
///   choice questions (with answers) about <subject>.\n\n", text
///   "<question.strip()>\nA. <c0>\nB. <c1>\nC. <c2>\nD. <c3>\nAnswer:", continuations " A" … " D".
///   Metric acc.
/// - `.cloze` = lm-eval `mmlu_continuation`: header "The following are questions (with answers)
///   about <subject>.\n\n", text "Question: <question.strip()>\nAnswer:", continuations
///   " " + option text. Metrics acc and acc_norm (lm-eval's multiple-choice defaults).
/// k-shot exemplars are the first k dev rows of the same subject in file order (`first_n`), each
/// written as text + " " + gold choice + "\n\n" between the header and the question. The headline
/// number and the four category numbers are size-weighted (micro) averages.
public struct MMLU: MultipleChoiceTask {
    public enum Format: String, Sendable { case letters, cloze }
    public let format: Format
    public let numFewShot: Int

    public init(format: Format = .letters, numFewShot: Int) {
        self.format = format
        self.numFewShot = numFewShot
    }

    public var name: String { format == .letters ? "mmlu" : "mmlu_continuation" }
    public var version: String { "2" }
    public var dataFiles: [String] { [Self.subjectsFile] }
    public var metrics: [Metric] { format == .letters ? [.acc] : [.acc, .accNorm] }
    public var reportedMetric: Metric { .acc }
    static let subjectsFile = "mmlu/subjects.tsv"

    /// The four lm-eval categories and the whole, each over its subjects' lm-eval task names. The
    /// subject → category map is read from subjects.tsv, so this needs the data directory.
    public func groups(from data: DataDirectory) throws -> [TaskGroup] {
        let subjects = try Self.subjects(from: data)
        var groups: [TaskGroup] = ["stem", "humanities", "social_sciences", "other"].map { category in
            TaskGroup(name: "\(name)_\(category)",
                      subtasks: subjects.filter { $0.category == category }.map { subtaskName($0.subject) })
        }
        groups.append(TaskGroup(name: name, subtasks: subjects.map { subtaskName($0.subject) }))
        return groups
    }

    /// lm-eval's per-subject task name, e.g. "mmlu_abstract_algebra".
    public func subtaskName(_ subject: String) -> String {
        format == .letters ? "mmlu_\(subject)" : "mmlu_\(subject)_continuation"
    }

    public func documents(from data: DataDirectory) throws -> [TaskDocument] {
        var docs: [TaskDocument] = []
        docs.reserveCapacity(14_042)
        for s in try Self.subjects(from: data) {
            let dev = try Self.questions(split: "dev", subject: s.subject, from: data)
            guard numFewShot <= dev.count else {
                throw EvaluationError.fewShotUnavailable(task: subtaskName(s.subject), requested: numFewShot, available: dev.count)
            }
            let readable = PythonText.replace(s.subject, "_", " ")
            var prefix = format == .letters
                ? "The following are multiple choice questions (with answers) about \(readable).\n\n"
                : "The following are questions (with answers) about \(readable).\n\n"
            for q in dev.prefix(numFewShot) { prefix += text(q) + " " + choices(q)[q.answer] + "\n\n" }
            for (i, q) in try Self.questions(split: "test", subject: s.subject, from: data).enumerated() {
                docs.append(.sharedContext(id: "\(subtaskName(s.subject))/\(i)", subtask: subtaskName(s.subject),
                                           context: prefix + text(q), choices: choices(q), gold: q.answer))
            }
        }
        return docs
    }

    private func text(_ q: Question) -> String {
        let stem = PythonText.strip(q.question)
        switch format {
        case .letters: return "\(stem)\nA. \(q.options[0])\nB. \(q.options[1])\nC. \(q.options[2])\nD. \(q.options[3])\nAnswer:"
        case .cloze: return "Question: \(stem)\nAnswer:"
        }
    }

    private func choices(_ q: Question) -> [String] { format == .letters ? ["A", "B", "C", "D"] : q.options }

    struct Question { let question: String, options: [String], answer: Int }

    /// Subjects in subjects.tsv order with their lm-eval category.
    static func subjects(from data: DataDirectory) throws -> [(subject: String, category: String)] {
        let lines = try data.text(subjectsFile).split(separator: "\n")
        let categories: Set<String> = ["stem", "humanities", "social_sciences", "other"]
        return try lines.dropFirst().enumerated().map { i, line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 2, !f[0].isEmpty else {
                throw EvaluationError.malformedRecord(file: subjectsFile, line: i + 2, field: "subject", reason: "expected subject<TAB>group")
            }
            guard categories.contains(f[1]) else {
                throw EvaluationError.malformedRecord(file: subjectsFile, line: i + 2, field: "lm_eval_group",
                                                      reason: "'\(f[1])' is not one of \(categories.sorted())")
            }
            return (f[0], f[1])
        }
    }

    /// One subject's split: CSV rows `question,A,B,C,D,answer-letter`.
    static func questions(split: String, subject: String, from data: DataDirectory) throws -> [Question] {
        let file = "mmlu/\(split)/\(subject)_\(split).csv"
        return try CSV.parse(data.text(file), file: file).map { r in
            guard r.fields.count == 6 else {
                throw EvaluationError.malformedRecord(file: file, line: r.line, field: "record", reason: "\(r.fields.count) fields, expected 6")
            }
            guard let answer = ["A", "B", "C", "D"].firstIndex(of: r.fields[5]) else {
                throw EvaluationError.malformedRecord(file: file, line: r.line, field: "answer", reason: "'\(r.fields[5])' is not A–D")
            }
            return Question(question: r.fields[0], options: Array(r.fields[1...4]), answer: answer)
        }
    }
}
