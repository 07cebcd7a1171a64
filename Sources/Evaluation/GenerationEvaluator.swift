import Models

/// Runs a generation task's items through a model under a `GenerationProtocol`: each prompt is
/// encoded as fine-tuning encodes its prompts (BOS first when the tokenizer adds it by default),
/// continued greedily with the KV cache (`Generator`) until EOS or `maxLength` tokens in all, decoded,
/// and scored by `FinalAnswer`. Greedy decoding is deterministic: the same model gives the same
/// answers however many threads run it.
public struct GenerationEvaluator {
    public let evaluationProtocol: GenerationProtocol
    public let tokenizer: any Tokenizer
    private let generator: Generator
    private let stop: Set<Int>

    public init(model: Llama, tokenizer: any Tokenizer, evaluationProtocol: GenerationProtocol) {
        self.evaluationProtocol = evaluationProtocol
        self.tokenizer = tokenizer
        generator = Generator(model: model)
        stop = Set([tokenizer.eosToken].compactMap { $0 })
    }

    /// Whether prompts start with BOS: the tokenizer's default, as `InstructionDataset` encodes the
    /// fine-tuning prompts, so a model is asked exactly as it was taught.
    public var addBOS: Bool { tokenizer.addsBOSByDefault }

    /// The prompt tokens of `item`.
    public func promptTokens(_ item: GSM8K.Item) -> [Int] {
        tokenizer.encode(evaluationProtocol.prompt(question: item.question), addBOS: addBOS)
    }

    /// Generates and scores one item. A prompt that already fills `maxLength` gets an empty answer.
    public func record(_ item: GSM8K.Item) throws -> GenerationRecord {
        let prompt = promptTokens(item)
        let budget = evaluationProtocol.maxLength - prompt.count
        let produced = budget > 0 && !prompt.isEmpty
            ? try generator.generate(prompt: prompt, maxNewTokens: budget, options: .greedy, stop: stop)
            : []
        let stopped = produced.last.map(stop.contains) ?? false
        return GenerationRecord(id: item.id, promptTokens: prompt.count, generatedTokens: produced.count, stoppedAtEOS: stopped,
                                prediction: tokenizer.decode(produced, skippingSpecial: true),
                                referenceSolution: item.answer)
    }

    /// Evaluates `items` (the ones `selection` chose) in order. `done` are records of a previous,
    /// interrupted run over the same items, which are kept rather than generated again; `after`
    /// sees the records so far after each new one (to checkpoint them, to report progress).
    public func run(_ items: [GSM8K.Item], selection: ItemSelection, model: String, resumingFrom done: [GenerationRecord] = [],
                    after: ([GenerationRecord]) throws -> Void = { _ in }) throws -> GenerationRun {
        guard done.count <= items.count, zip(done, items).allSatisfy({ $0.id == $1.id }) else {
            throw EvaluationError.mismatchedRuns(reason: "the \(done.count) resumed records are not the first of these \(items.count) items")
        }
        var records = done
        records.reserveCapacity(items.count)
        for item in items.dropFirst(done.count) {
            records.append(try record(item))
            try after(records)
        }
        return GenerationRun(evaluationProtocol: evaluationProtocol, model: model, addBOS: addBOS, items: selection, samples: records)
    }
}
