/// One generation task evaluated by one model: exact-match accuracy with its standard error, the
/// protocol and selection that produced it, and every item's record (in item order, so runs over
/// the same selection pair item by item).
public struct GenerationRun: Codable, Equatable, Sendable {
    public let task: String
    public let evaluationProtocol: GenerationProtocol
    public let model: String
    /// Whether prompts were encoded with BOS first (the tokenizer's default, as in fine-tuning).
    public let addBOS: Bool
    /// `ItemSelection.canonical`.
    public let items: String
    /// Mean of the items' 0/1 correctness.
    public let accuracy: Double
    /// lm-eval's `mean_stderr` (sample standard deviation over √n); nil for fewer than two items.
    public let stderr: Double?
    public let samples: [GenerationRecord]

    enum CodingKeys: String, CodingKey {
        case task, evaluationProtocol = "protocol", model, addBOS = "add_bos_token", items, accuracy, stderr, samples
    }

    public init(evaluationProtocol: GenerationProtocol, model: String, addBOS: Bool, items: ItemSelection, samples: [GenerationRecord]) {
        task = evaluationProtocol.task
        self.evaluationProtocol = evaluationProtocol
        self.model = model
        self.addBOS = addBOS
        self.items = items.canonical
        let scores = samples.map(Self.score)
        accuracy = samples.isEmpty ? 0 : Metrics.mean(scores)
        let se = Metrics.meanStderr(scores)
        stderr = se.isFinite ? se : nil
        self.samples = samples
    }

    /// Every item's correctness as 0/1, in item order (the per-item series paired tests take).
    public var scores: [Double] { samples.map(Self.score) }

    private static func score(_ record: GenerationRecord) -> Double { record.correct ? 1 : 0 }
}
