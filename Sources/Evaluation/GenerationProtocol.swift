/// How a generation task is run and scored, as data with a version: the prompt template, the
/// length budget, the decoding and the scoring rule. Its `canonical` string is part of every
/// result's identity (and, through the evaluation stage's version and parameters, of its cache key).
///
/// LoTA-QAF's evaluator (spec/lota-qaf.md §3, `evalGSV.py`) renders the question with the model's
/// chat template, decodes greedily to a total length of 512 tokens and compares the text after
/// the last "####". Here the prompt is whatever template the fine-tuning data used, so the model is
/// asked in the form it was trained on (qaft trains on plain "Question: …\nAnswer: " prompts, no chat
/// template); the rest is the paper's rule. Decoding is batch 1, so nothing is padded and every
/// item gets `maxLength` − its own prompt length (the paper's left-padded batches of 64 count the
/// padding of the batch's longest prompt against the 512). Special tokens (the stopping EOS, and any
/// other a model writes, e.g. a stray `<|endoftext|>` before `max_length`) are left out of the
/// prediction, as the reference's `skip_special_tokens=True` decoding does; kept, one would
/// break the exact match of the answer it follows.
public struct GenerationProtocol: Codable, Equatable, Sendable {
    /// Where the question goes in `promptTemplate`.
    public static let questionPlaceholder = "{question}"
    /// Bump when anything below changes how items are prompted, decoded or scored.
    public static let currentVersion = "2"

    /// The task name (`GSM8K.name`).
    public let task: String
    public let version: String
    /// The prompt with `questionPlaceholder` where the question goes; encoded with BOS when the
    /// tokenizer adds it by default (as the fine-tuning data is).
    public let promptTemplate: String
    /// Most tokens of prompt plus generation (the paper's `max_length`).
    public let maxLength: Int
    public let decoding: String
    public let stop: String
    public let scoring: String

    /// GSM8K with `promptTemplate` (e.g. the fine-tuning data's template applied to
    /// `questionPlaceholder`), greedy decoding to `maxLength` tokens in all.
    public init(gsm8kPromptTemplate promptTemplate: String, maxLength: Int = 512) {
        precondition(promptTemplate.contains(Self.questionPlaceholder), "the template has no \(Self.questionPlaceholder)")
        task = GSM8K.name
        version = Self.currentVersion
        self.promptTemplate = promptTemplate
        self.maxLength = maxLength
        decoding = "greedy (argmax, ties to the lowest id), batch 1, KV cache"
        stop = "the tokenizer's EOS or max_length; special tokens left out of the prediction"
        scoring = "exact match of text after the last \(FinalAnswer.marker), Python-stripped (HALO/LoTA-QAF is_correct)"
    }

    /// The prompt for one question.
    public func prompt(question: String) -> String {
        PythonText.replace(promptTemplate, Self.questionPlaceholder, question)
    }

    /// Every field in one line, e.g. "generation:v1;task=gsm8k;template=\"Question: {question}\\nAnswer: \";max_length=512;…".
    public var canonical: String {
        // The template as a Swift literal (quotes and newlines escaped), so the line stays one line.
        "generation:v\(version);task=\(task);template=\(String(reflecting: promptTemplate));max_length=\(maxLength);"
            + "decoding=\(decoding);stop=\(stop);scoring=\(scoring)"
    }
}
