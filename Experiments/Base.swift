import Pipeline

/// Settings every manifest starts from; a manifest changes only what differs (its deltas).
///
/// Profiles, with the arithmetic behind their budgets:
/// - `tiny`: stories260K (260 K parameters) on a 30 KB TinyStories excerpt, ~10 k tokens; perplexity
///   over every 64-token window (~150 windows); seconds in total. Group size 4, because the
///   model's FFN width 172 is divisible by 4 but not by 64.
/// - `default`: SmolLM2-135M (≈0.27 GFLOP/token). WikiText-2 perplexity over the first 16 windows
///   of 512 tokens = 8,192 tokens ≈ 2.2 TFLOP ≈ 45 s per model on 2 cores; a table of ~15 models
///   spends ~11 min evaluating. Fine-tuning: sequences of 256 tokens, micro-batch 1 × 16
///   accumulation = 4,096 tokens per step; 50 steps = 800 of the 999 Alpaca-GPT4 examples
///   (0.8 epoch) ≈ 205 k tokens ≈ 3 × 0.27 GFLOP × 205 k ≈ 166 TFLOP ≈ 1 min at the measured
///   sgemm rate, a few minutes with overheads, for each fine-tuned row.
/// - `full`: every WikiText-2 window of 2048 tokens (≈ 140 windows) and the paper's epoch ratios
///   (QAT-based 0.5 epoch : PTQ-based 1 epoch, L4Q §2) on all 999 examples at 512 tokens
///   (micro-batch 1 × 32 accumulation = 16 k tokens per step; 1 epoch ≈ 31 steps). Hours.
public struct Base: Sendable {
    public var profile: Profile
    public var model: ModelSource
    public var seed: UInt64
    /// Quantization group size (divides every linear layer's input width of the model).
    public var groupSize: Int
    /// Perplexity text, its format (see `PerplexityStage`), window and window budget.
    public var perplexityText: String
    public var perplexityFormat: String
    public var perplexityWindow: Int
    public var perplexityMaxWindows: Int
    /// Fine-tuning data and budget.
    public var fineTuningData: String
    public var sequenceLength: Int
    public var microBatch: Int
    public var accumulation: Int
    /// Optimizer steps for QAT-based methods; PTQ-based PEFT gets twice as many (L4Q §2: 25K vs 50K iterations).
    public var steps: Int

    public static func settings(_ profile: Profile) -> Base {
        switch profile {
        case .tiny:
            return Base(profile: profile, model: .file("Tests/Fixtures/stories260K/stories260K.bin", tokenizer: "Tests/Fixtures/stories260K/tok512.bin"),
                        seed: 42, groupSize: 4, perplexityText: "Experiments/Data/tinystories/tinystories_valid_excerpt.txt",
                        perplexityFormat: "plain", perplexityWindow: 64, perplexityMaxWindows: 0,
                        fineTuningData: "Experiments/Data/alpaca/alpaca_en_demo.json", sequenceLength: 64, microBatch: 1,
                        accumulation: 2, steps: 4)
        case .default:
            return Base(profile: profile, model: .smolLM2, seed: 42, groupSize: 64,
                        perplexityText: "Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl", perplexityFormat: "jsonl-text",
                        perplexityWindow: 512, perplexityMaxWindows: 16,
                        fineTuningData: "Experiments/Data/alpaca/alpaca_en_demo.json", sequenceLength: 256, microBatch: 1,
                        accumulation: 16, steps: 50)
        case .full:
            return Base(profile: profile, model: .smolLM2, seed: 42, groupSize: 64,
                        perplexityText: "Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl", perplexityFormat: "jsonl-text",
                        perplexityWindow: 2048, perplexityMaxWindows: 0,
                        fineTuningData: "Experiments/Data/alpaca/alpaca_en_demo.json", sequenceLength: 512, microBatch: 1,
                        accumulation: 32, steps: 16)
        }
    }

    /// The perplexity column (our auxiliary metric: the papers' tables have none, see the spec files).
    public func perplexity(_ label: String, window: Int? = nil) -> EvaluationSpec {
        let w = window ?? perplexityWindow
        let text = perplexityText.split(separator: "/").last.map(String.init) ?? perplexityText
        return EvaluationSpec(label, kind: "evaluate-perplexity", metric: "perplexity", lowerIsBetter: true,
                              protocolName: "token ppl, \(w)-token windows\(perplexityMaxWindows > 0 ? ", first \(perplexityMaxWindows)" : ""), \(text)",
                              parameters: ["format": .string(perplexityFormat), "window": .int(w), "maxWindows": .int(perplexityMaxWindows)],
                              files: ["text": perplexityText])
    }

    /// Fine-tuning budget parameters shared by every method; `ptq` doubles the steps (see `steps`).
    public func budget(ptq: Bool = false, learningRate: Double) -> [String: Value] {
        ["steps": .int(ptq ? 2 * steps : steps), "sequenceLength": .int(sequenceLength), "microBatch": .int(microBatch),
         "accumulation": .int(accumulation), "learningRate": .double(learningRate)]
    }
}
