import Pipeline
import Tensor

/// Settings every manifest starts from; a manifest changes only what differs (its deltas).
///
/// Profiles, with the arithmetic behind their budgets (SmolLM2-135M: ≈0.27 GFLOP per token
/// forward, ≈0.8 training; measured on 2 cores: ≈590 tokens/s forward, ≈270 tokens/s LoRA
/// training, ≈190 tokens/s L4Q):
/// - `tiny`: stories260K on a 30 KB TinyStories excerpt; perplexity over 64-token windows;
///   4 training steps; 3 items per task; seconds in total. Group size 4, because the model's FFN
///   width 172 is divisible by 4 but not by 16 (so no packed quantize stage runs in this profile).
/// - `default`: SmolLM2-135M, group 64 (576 = 9·64; its weights already lie on a 4-bit group-32
///   grid, see spec/models.md). WikiText-2 perplexity over the first 32 windows of 512 tokens
///   (16,384 tokens ≈ 30 s per model), enough for a 2 % perplexity difference to be significant in
///   the paired test: measured on RTN w4 g64 vs g32 (5.3 % apart over 64 windows), the per-window
///   NLL differences have a standard deviation of 0.037 nats, so a 2 % difference (0.020 nats) has
///   t ≈ 3.1 over 32 windows, 1.5 over the 8 windows used before. Fine-tuning: 8 Alpaca examples (≈ 1.25 k tokens) per step
///   (micro-batch 4 × 2 accumulation, ≤ 256 tokens each); one epoch of the 983 examples left after
///   16 are held out is 123 steps; QAT-based methods train ½ epoch (62 steps), PTQ-based PEFT one
///   (123), L4Q §2's 0.5 : 1 ratio, chosen from the `budget` target's held-out curves (it was 10 / 20
///   steps, 8 % / 16 % of an epoch, where no method had converged): ≈ 6–7 minutes per QAT row at
///   5.5–6.5 s per step, ≈ 6–8 minutes per PTQ row; the held-out loss measured before training
///   and every 7 steps (16 times per epoch). Tasks: a seeded stratified 30 items per commonsense task (210) and 1 question per
///   MMLU subject (57; 5-shot: 3 questions in each of 12 seeded subjects, since each subject
///   costs its few-shot prefix) — enough to exercise every protocol and rank gross differences,
///   not to resolve 1-point gaps (the paired tests say which gaps are significant): ≈ 85 s of
///   evaluation per row. Calibration: 64 C4 windows of 128 tokens, measured
///   against 32 × 512 and 128 × 256 (GPTQ g64, WikiText-2 over 32 windows; RTN w4 38.47, w3 91.33):
///   w4 34.94 (32 × 512: 36.57), w3 77.06 (32 × 512: 91.32, no better than RTN; 128 × 256: 86.99).
///   Many short windows put GPTQ clearly ahead of RTN at both widths, as every paper has it (the
///   32 × 512 draws used seed 0, the others the manifests' 42). A 4-bit table's cold time is in
///   the README (measured by `qaft status table2`, the summed stage times).
/// - `quick`: the `default` profile at smoke-run size, to see a table run end to end on SmolLM2
///   before spending hours on it: 5 / 10 optimizer steps (QAT-based / PTQ-based; 4 % / 8 % of an
///   epoch, far from converged), held-out loss every 5 steps, the first 8 perplexity windows, 10
///   items per commonsense task, 1 MMLU question per subject (5-shot: 3 in each of 4 subjects).
///   Its quantize stages are the default profile's (same calibration, same keys). Its numbers
///   answer none of the papers' questions; its reports say `quick` in their names.
/// - `full`: every WikiText-2 window of 2048 tokens, every item of every task, paper-style
///   budgets (1 epoch of the Alpaca-GPT4 examples left after 64 are held out for PTQ-based PEFT,
///   0.5 for QAT-based, 16 sequences of ≤ 512 tokens per step, i.e. 59 / 30 steps; held-out loss
///   every 8 steps), 128 calibration windows of 2048. Hours
///   on one machine; each evaluation is split into parts of about 10 minutes, so on a cluster
///   (`--executor slurm`) a table's evaluations run side by side.
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
    /// Calibration text (never an evaluation text) and its windows.
    public var calibrationText = "Experiments/Data/c4/c4_demo.jsonl"
    public var calibrationWindows: Int
    public var calibrationLength: Int
    /// Fine-tuning data and budget.
    public var fineTuningData = "Experiments/Data/alpaca/alpaca_en_demo.json"
    /// Its format (`alpaca`, `gsm8k` or `text`).
    public var fineTuningFormat = "alpaca"
    public var sequenceLength: Int
    public var microBatch: Int
    public var accumulation: Int
    /// Optimizer steps for QAT-based methods and for PTQ-based PEFT: in the SmolLM2 profiles ½ and
    /// one epoch of the fine-tuning data (`withEpochBudget`), L4Q §2's 25K : 50K iterations.
    public var steps: Int
    public var ptqSteps: Int
    /// Examples held out of the fine-tuning data (a fixed seeded split, never trained on) and how
    /// often, in optimizer steps, every fine-tuning measures its loss on them (the held-out curve
    /// beside the training loss in each report's `-heldout` files). None in `tiny`, whose training
    /// text is one document.
    public var heldOut: Int
    public var heldOutEvery: Int
    /// The arithmetic of fine-tuning's products (`ComputePrecision`): bf16, the papers' own training
    /// precision, in the SmolLM2 profiles (on a CPU without AVX512_BF16 or AMX the stage falls back
    /// to fp32 and records it); fp32 in `tiny`, a machinery check whose numbers stay comparable
    /// across machines.
    public var fineTuningPrecision: ComputePrecision
    /// The arithmetic of scoring's products: fp32 in every profile, the precision in which scores
    /// agree with lm-evaluation-harness item by item.
    public var scoringPrecision: ComputePrecision = .fp32
    /// Items per task (per MMLU subject) in the seeded stratified subsets; 0 = every item.
    public var commonsenseItems: Int
    public var mmluItems: Int
    /// MMLU subjects scored 5-shot (0 = all 57): each costs its few-shot prefix.
    public var mmluFewShotSubjects = 0
    /// The data folder's checksum list: the evaluation tasks' data is identified by it.
    public var dataChecksums = "Experiments/Data/SHA256SUMS"
    /// When set, each evaluation is split into parts of about this many seconds on 2 cores (jobs
    /// for a cluster, merged exactly: `EvaluationSpec.shards`), from its full-set time measured
    /// on SmolLM2-135M (`fullSetSeconds`).
    public var partSeconds: Double?

    /// Full-set evaluation seconds of SmolLM2-135M on 2 cores, from Results/pretrained-full/TIMES
    /// (tasks) and from its measured forward speed (≈ 550 tokens/s over WikiText-2 test's ≈ 300 k
    /// tokens, for perplexity).
    static let fullSetSeconds: [String: Double] = [
        "CSQA": 3430, "mmlu 0": 2271, "mmlu 5": 3318, "mmlu_continuation 0": 2096, "mmlu_continuation 5": 2283, "perplexity": 550,
    ]

    /// `spec` split into parts of about `partSeconds` (unchanged when the profile does not split).
    func sharded(_ spec: EvaluationSpec, seconds name: String) -> EvaluationSpec {
        guard let partSeconds, let seconds = Self.fullSetSeconds[name] else { return spec }
        var s = spec
        s.shards = max(1, Int((seconds / partSeconds).rounded(.up)))
        return s
    }

    public static func settings(_ profile: Profile) -> Base {
        switch profile {
        case .tiny:
            var tiny = Base(profile: profile, model: .file("Tests/Fixtures/stories260K/stories260K.bin", tokenizer: "Tests/Fixtures/stories260K/tok512.bin"),
                        seed: 42, groupSize: 4, perplexityText: "Experiments/Data/tinystories/tinystories_valid_excerpt.txt",
                        perplexityFormat: "plain", perplexityWindow: 64, perplexityMaxWindows: 0, calibrationWindows: 4,
                        calibrationLength: 64, sequenceLength: 64, microBatch: 1, accumulation: 2, steps: 4, ptqSteps: 8, heldOut: 0, heldOutEvery: 0, fineTuningPrecision: .fp32,
                        commonsenseItems: 3, mmluItems: 1)
            // stories260K cannot fit an Alpaca prompt into 64 tokens of its 512-token vocabulary:
            // it trains on the TinyStories excerpt it is evaluated on (a machinery check only).
            tiny.fineTuningData = tiny.perplexityText
            tiny.fineTuningFormat = "text"
            return tiny
        case .quick:
            var quick = settings(.default)
            quick.profile = profile
            quick.steps = 5
            quick.ptqSteps = 10
            quick.heldOutEvery = 5
            quick.perplexityMaxWindows = 8
            quick.commonsenseItems = 10
            quick.mmluFewShotSubjects = 4
            return quick
        case .default:
            return Base(profile: profile, model: .smolLM2, seed: 42, groupSize: 64,
                        perplexityText: "Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl", perplexityFormat: "jsonl-text",
                        perplexityWindow: 512, perplexityMaxWindows: 32, calibrationWindows: 64, calibrationLength: 128,
                        sequenceLength: 256, microBatch: 4, accumulation: 2, steps: 0, ptqSteps: 0, heldOut: 16, heldOutEvery: 7, fineTuningPrecision: .bf16, commonsenseItems: 30, mmluItems: 1,
                        mmluFewShotSubjects: 12).withEpochBudget()
        case .full:
            return Base(profile: profile, model: .smolLM2, seed: 42, groupSize: 64,
                        perplexityText: "Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl", perplexityFormat: "jsonl-text",
                        perplexityWindow: 2048, perplexityMaxWindows: 0, calibrationWindows: 128, calibrationLength: 2048,
                        sequenceLength: 512, microBatch: 4, accumulation: 4, steps: 0, ptqSteps: 0, heldOut: 64, heldOutEvery: 8, fineTuningPrecision: .bf16, commonsenseItems: 0, mmluItems: 0,
                        partSeconds: 600).withEpochBudget()
        }
    }

    /// The perplexity column (our auxiliary metric: the papers' tables have none, see the spec files).
    public func perplexity(_ label: String, window: Int? = nil) -> EvaluationSpec {
        let w = window ?? perplexityWindow
        let text = perplexityText.split(separator: "/").last.map(String.init) ?? perplexityText
        return sharded(EvaluationSpec(label, kind: "evaluate-perplexity", metric: "perplexity", lowerIsBetter: true,
                              protocolName: "token ppl, \(w)-token windows\(perplexityMaxWindows > 0 ? ", first \(perplexityMaxWindows)" : ""), \(text)" + scoringNote,
                              parameters: ["format": .string(perplexityFormat), "window": .int(w), "maxWindows": .int(perplexityMaxWindows),
                                           "precision": .string(scoringPrecision.rawValue)],
                              files: ["text": perplexityText]), seconds: "perplexity")
    }

    /// The papers' "CSQA" column: 0-shot mean of the seven commonsense tasks at lm-eval's metrics.
    public func commonsense(_ label: String = "CSQA", paperColumn: String? = "CSQA") -> EvaluationSpec {
        sharded(EvaluationSpec(label, paperColumn: paperColumn, kind: "evaluate-tasks", metric: "accuracy", lowerIsBetter: false,
                       protocolName: "0-shot, mean of 7 tasks (lm-eval acc/acc_norm)" + subsetNote(commonsenseItems, "task") + scoringNote,
                       parameters: ["tasks": ["boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"],
                                    "shots": 0, "perSubtask": .int(commonsenseItems), "precision": .string(scoringPrecision.rawValue)],
                       files: ["checksums": dataChecksums]), seconds: "CSQA")
    }

    /// An MMLU column, size-weighted over subjects: lm-eval's letter format (the papers' column),
    /// or with `cloze` its continuation variant that scores the answer texts (`mmlu_continuation`).
    public func mmlu(shots: Int, cloze: Bool = false) -> EvaluationSpec {
        let subjects = shots > 0 ? mmluFewShotSubjects : 0
        let perSubject = subjects > 0 ? 3 * mmluItems : mmluItems
        let task = cloze ? "mmlu_continuation" : "mmlu"
        var p: [String: Value] = ["tasks": [.string(task)], "shots": .int(shots), "perSubtask": .int(perSubject),
                                  "precision": .string(scoringPrecision.rawValue)]
        if subjects > 0 { p["subtasks"] = .int(subjects) }
        return sharded(EvaluationSpec("MMLU\(cloze ? " cloze" : "") \(shots)-shot", paperColumn: cloze ? nil : "MMLU \(shots)-shot",
                              kind: "evaluate-tasks", metric: "accuracy", lowerIsBetter: false,
                              protocolName: "\(shots)-shot acc (lm-eval \(task))" + subsetNote(perSubject, "subject")
                                  + (subjects > 0 ? ", \(subjects) seeded subjects" : "") + scoringNote,
                              parameters: p, files: ["checksums": dataChecksums]), seconds: "\(task) \(shots)")
    }

    private var scoringNote: String { Self.scoringNote(scoringPrecision) }

    /// What a column's protocol says of its scoring precision: nothing for fp32.
    static func scoringNote(_ precision: ComputePrecision) -> String {
        precision == .fp32 ? "" : ", \(precision.rawValue) scoring"
    }

    private func subsetNote(_ n: Int, _ unit: String) -> String {
        n > 0 ? ", seeded subset of \(n) per \(unit)" : ", all items"
    }

    /// Calibration settings for a quantize or fine-tune stage.
    public var calibration: [String: Value] {
        ["calibrationWindows": .int(calibrationWindows), "calibrationLength": .int(calibrationLength)]
    }

    /// Optimizer steps in one epoch of the fine-tuning data's 999 Alpaca examples less the held-out
    /// ones, at `microBatch × accumulation` sequences per step (rounded up).
    public var epochSteps: Int {
        let perStep = microBatch * accumulation
        return (999 - heldOut + perStep - 1) / perStep
    }

    /// These settings with the papers' budgets: QAT-based methods ½ epoch, PTQ-based PEFT one
    /// (L4Q §2's 25K vs 50K iterations). Chosen from the `budget` target's held-out curves (README,
    /// "Fine-tuning budget"): at 4 bits L4Q's held-out loss flattens within ½ epoch, at 3 bits it is
    /// still falling there and flattens near one epoch.
    func withEpochBudget() -> Base {
        var b = self
        b.ptqSteps = epochSteps
        b.steps = Int((0.5 * Double(epochSteps)).rounded())
        return b
    }

    /// Fine-tuning budget parameters shared by every method: `steps`, or `ptqSteps` for PTQ-based PEFT.
    public func budget(ptq: Bool = false, learningRate: Double) -> [String: Value] {
        var p: [String: Value] = ["steps": .int(ptq ? ptqSteps : steps), "sequenceLength": .int(sequenceLength),
                                  "microBatch": .int(microBatch), "accumulation": .int(accumulation),
                                  "learningRate": .double(learningRate), "precision": .string(fineTuningPrecision.rawValue),
                                  "heldOut": .int(heldOut), "heldOutEvery": .int(heldOutEvery)]
        if fineTuningFormat != "alpaca" { p["format"] = .string(fineTuningFormat) }
        return p
    }

    /// A post-training quantization of the row's base.
    public func quantization(_ quantizer: String, bits: Int, parameters: [String: Value] = [:]) -> QuantizationSpec {
        QuantizationSpec(quantizer, bits: bits, groupSize: groupSize, parameters: parameters.merging(calibration) { a, _ in a },
                         calibration: calibrationText)
    }

    /// Decode steps timed per model in the speed figures (after a 64-token prompt, batch 1).
    public var decodeSteps: Int { profile == .tiny ? 8 : 64 }

    /// qaft's batch-1 decode speed of each row's model in its deployed form (`DecodeSpeedStage`):
    /// `decodeSteps` tokens after a 64-token prompt, the speed axis of the speed figures.
    public func decodeSpeed() -> EvaluationSpec {
        EvaluationSpec(Self.decodeColumn, kind: DecodeSpeedStage.kindName, metric: "decodeTokensPerSecond", lowerIsBetter: false,
                       protocolName: "batch-1 decode of \(decodeSteps) tokens after a 64-token prompt, deployed form, 2 cores",
                       parameters: ["promptTokens": 64, "steps": .int(decodeSteps)], files: [:])
    }

    static let decodeColumn = "decode tok/s"

    /// The speed figures' x axis: `decodeSpeed`'s column.
    public static let decodeAxis = ScatterSpec.Axis(.column(decodeColumn), label: "decode tokens/s (batch 1, 2 cores)", higherIsBetter: true)

    /// llama.cpp's own speed of each row's exported GGUF (`LlamaCppSpeedStage`), beside qaft's
    /// (`decodeSpeed`): decode of `decodeSteps` tokens after a 64-token prompt (llama-bench's tg
    /// at depth 64) and prefill of that prompt (pp64), 2 threads, as two columns of one stage, by
    /// llama-bench built from the pinned source (`LlamaCppBuild`: `make llama-cpp`).
    public func llamaCppSpeed() -> [EvaluationSpec] {
        let runs = profile == .tiny ? 1 : 5
        let parameters: [String: Value] = ["promptTokens": 64, "generatedTokens": .int(decodeSteps), "threads": 2, "repetitions": .int(runs),
                                           "llamaCpp": .string(LlamaCppBuild.pinnedSource)]
        let how = ", 2 threads, mean of \(runs) run\(runs == 1 ? "" : "s"), exported GGUF"
        let adapters = " (\"4&16\" rows: llama-completion --lora, the same question)"
        return [EvaluationSpec(Self.llamaCppDecodeColumn, kind: LlamaCppSpeedStage.kindName, metric: "decodeTokensPerSecond", lowerIsBetter: false,
                               protocolName: "llama-bench tg\(decodeSteps) after a 64-token context" + how + adapters, parameters: parameters, files: [:]),
                EvaluationSpec("llama.cpp prefill tok/s", kind: LlamaCppSpeedStage.kindName, metric: "prefillTokensPerSecond", lowerIsBetter: false,
                               protocolName: "llama-bench pp64" + how + adapters, parameters: parameters, files: [:])]
    }

    static let llamaCppDecodeColumn = "llama.cpp decode tok/s"

    /// The speed scatters' second series: llama.cpp's decode of each row's exported GGUF
    /// (`llamaCppSpeed`'s first column) beside qaft's own.
    public static let llamaCppCompanion = ScatterSpec.Companion(.column(llamaCppDecodeColumn), name: "llama.cpp (exported GGUF)",
                                                                firstName: "qaft (deployed form)")

    /// What the speed figures' notes say of the llama.cpp columns.
    public static let llamaCppNote = "llama.cpp columns: llama-bench of the pinned llama.cpp on each row's model exported by `qaft export` "
        + "(2 threads, same prompt and decode lengths as ours; \"4&16\" rows: base GGUF + LoRA adapter GGUF timed by llama-completion --lora, "
        + "as llama-bench takes no --lora); empty where llama.cpp cannot run the row as qaft deploys it (NF4, fp weak columns), with the reason."

    /// A fine-tuning of the row's model by `method` with the shared budget plus `parameters`.
    public func fineTuning(_ method: String, ptq: Bool, learningRate: Double, _ parameters: [String: Value]) -> FineTuningSpec {
        FineTuningSpec(method, data: fineTuningData,
                       parameters: budget(ptq: ptq, learningRate: learningRate).merging(calibration) { a, _ in a }
                           .merging(parameters) { _, b in b },
                       calibration: calibrationText)
    }
}
