/// Every task by its lm-eval name. Adding a task: one file in Tasks/ and one line here.
public enum TaskRegistry {
    private static let makers: [(name: String, make: (Int) throws -> any MultipleChoiceTask)] = [
        ("mmlu", { MMLU(format: .letters, numFewShot: $0) }),
        ("mmlu_continuation", { MMLU(format: .cloze, numFewShot: $0) }),
        ("arc_easy", { try ARC(.easy, numFewShot: $0) }),
        ("arc_challenge", { try ARC(.challenge, numFewShot: $0) }),
        ("hellaswag", { try HellaSwag(numFewShot: $0) }),
        ("piqa", { try PIQA(numFewShot: $0) }),
        ("winogrande", { try WinoGrande(numFewShot: $0) }),
        ("boolq", { try BoolQ(numFewShot: $0) }),
        ("openbookqa", { try OpenBookQA(numFewShot: $0) }),
    ]

    public static var names: [String] { makers.map(\.name) }

    /// The task called `name` (lm-eval spelling) with `numFewShot` exemplars.
    public static func task(named name: String, numFewShot: Int = 0) throws -> any MultipleChoiceTask {
        guard let maker = makers.first(where: { $0.name == name }) else {
            throw EvaluationError.unknownTask(name: name, known: names)
        }
        return try maker.make(numFewShot)
    }
}
