import Pipeline

/// L4Q (ACL 2025) Table 2, 4-bit accuracy, with the matching 3-bit rows of Table 3 (the spec
/// recommends both: the gaps are largest at 3 bits). Scaled to SmolLM2-135M as in spec/l4q.md §6:
/// group 64 (576 = 9·64; 128 does not divide 576), rank 4, the paper's 0.5 : 1 epoch ratio between
/// QAT-based (QAT-LoRA, L4Q) and PTQ-based (QLoRA*, QA-LoRA) fine-tuning, AdamW with weight decay
/// 0.01 and a cosine schedule after 10 % warm-up. WikiText-2 perplexity is our auxiliary column
/// (the paper has no perplexity); CSQA (7 tasks, 0-shot acc) and MMLU 0/5-shot are the paper's.
///
/// Bits per weight of the deployed models, per group of 64 with an fp16 scale and zero:
/// 4 + 32/64 = 4.5 (w4 g64) and 3 + 32/64 = 3.5 (w3 g64); "&16" rows keep an fp LoRA path on top.
public enum Table2 {
    /// The paper's method columns, in its order.
    static let paperMethods = ["Pre-trained", "LoRA", "GPTQ", "OmniQ", "LoftQ*", "QLoRA*", "QA-LoRA", "QAT-LoRA", "L4Q"]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let g = base.groupSize
        var rows = [RowSpec("fp", paperRow: "Pre-trained"),
                    RowSpec("LoRA fp", paperRow: "LoRA",
                            fineTuning: FineTuningSpec("lora", data: base.fineTuningData,
                                                       parameters: base.budget(learningRate: 1e-4).merging(["rank": 4, "alpha": 8]) { a, _ in a }))]
        for bits in [4, 3] {
            let gptq = QuantizationSpec("gptq", bits: bits, groupSize: g, calibration: base.perplexityText)
            let rank: [String: Value] = ["rank": 4, "alpha": 8]
            rows += [
                RowSpec("GPTQ w\(bits)", paperRow: "GPTQ", quantization: gptq),
                RowSpec("QLoRA* w\(bits)", paperRow: "QLoRA*", quantization: QuantizationSpec("rtn", bits: bits, groupSize: g),
                        fineTuning: FineTuningSpec("qlora", data: base.fineTuningData, parameters: base.budget(ptq: true, learningRate: 2e-5).merging(rank) { a, _ in a })),
                // QA-LoRA gets twice the rank (L4Q §2).
                RowSpec("QA-LoRA w\(bits)", paperRow: "QA-LoRA", quantization: gptq,
                        fineTuning: FineTuningSpec("qalora", data: base.fineTuningData, parameters: base.budget(ptq: true, learningRate: 2e-5).merging(["rank": 8, "alpha": 16]) { a, _ in a })),
                RowSpec("QAT-LoRA w\(bits)", paperRow: "QAT-LoRA",
                        fineTuning: FineTuningSpec("qatlora", data: base.fineTuningData,
                                                   parameters: base.budget(learningRate: 1e-4).merging(rank.merging(["bits": .int(bits), "groupSize": .int(g)]) { a, _ in a }) { a, _ in a })),
                RowSpec("L4Q w\(bits)", paperRow: "L4Q",
                        fineTuning: FineTuningSpec("l4q", data: base.fineTuningData,
                                                   parameters: base.budget(learningRate: 1e-4).merging(rank.merging(["bits": .int(bits), "groupSize": .int(g)]) { a, _ in a }) { a, _ in a })),
            ]
        }
        let ppl = base.perplexity("WikiText-2 ppl")
        // Per-task subsets keep the default profile inside its hour (spec §6: 200–500 items each).
        let limit: Value = .int(profile == .full ? 0 : profile == .default ? 250 : 20)
        let csqa = EvaluationSpec("CSQA", paperColumn: "CSQA", kind: "evaluate-tasks", metric: "accuracy", lowerIsBetter: false,
                                  protocolName: "0-shot acc, mean of 7 tasks (lm-eval style)",
                                  parameters: ["tasks": ["hellaswag", "piqa", "arc_challenge", "arc_easy", "winogrande", "boolq", "openbookqa"],
                                               "shots": 0, "limit": limit],
                                  files: ["hellaswag": "Experiments/Data/hellaswag/hellaswag_validation.jsonl.gz",
                                          "piqa": "Experiments/Data/piqa/piqa_validation.jsonl",
                                          "arc_challenge": "Experiments/Data/arc/arc_challenge_test.jsonl",
                                          "arc_easy": "Experiments/Data/arc/arc_easy_test.jsonl",
                                          "winogrande": "Experiments/Data/winogrande/winogrande_xl_validation.jsonl",
                                          "boolq": "Experiments/Data/boolq/boolq_validation.jsonl.gz",
                                          "openbookqa": "Experiments/Data/openbookqa/openbookqa_main_test.jsonl"])
        let mmlu = [0, 5].map { shots in
            EvaluationSpec("MMLU \(shots)-shot", paperColumn: "MMLU \(shots)-shot", kind: "evaluate-tasks", metric: "accuracy",
                           lowerIsBetter: false, protocolName: "\(shots)-shot acc, mean over subjects",
                           parameters: ["tasks": ["mmlu"], "shots": .int(shots), "limit": limit],
                           files: ["mmlu": "Experiments/Data/mmlu"])
        }
        let claims = [4, 3].flatMap { bits -> [ClaimSpec] in
            let source = bits == 4 ? "L4Q Table 2; spec §6 claim 2" : "L4Q Table 3; spec §6 claim 1"
            return ["QAT-LoRA", "QA-LoRA", "QLoRA*", "GPTQ"].map { other in
                ClaimSpec("l4q-vs-\(other.lowercased().filter(\.isLetter))-w\(bits)",
                          "at \(bits) bits L4Q ends better than \(other)", source: source,
                          better: .init("L4Q w\(bits)", ppl.label), worse: .init("\(other) w\(bits)", ppl.label))
            }
        }
        return Manifest(
            id: "table2", title: "L4Q Tables 2 and 3: 4- and 3-bit quantization-aware fine-tuning", profile: profile,
            seed: base.seed, model: base.model, rows: rows, evaluations: [ppl, csqa] + mmlu, paperModel: "LLaMA-1 7B",
            paperNumbers: paperNumbers, claims: claims, figureColumns: [ppl.label],
            notes: ["Paper numbers are LLaMA-1 7B accuracies (%); ours are perplexities of SmolLM2-135M, so compare orderings, not values.",
                    "Not testable here: absolute accuracies of 3B–33B models, A100 memory and speed (L4Q spec §6)."])
    }

    /// L4Q Table 2 (4-bit) and Table 3 (3-bit), LLaMA-1 7B and OpenLLaMA 3B (whose group size 64
    /// matches ours), in `paperMethods` order. Pre-trained and LoRA are the same in both tables.
    static let paperNumbers: [PaperNumber] = {
        let cells: [(String, String, String, [Double])] = [
            ("L4Q Table 2", "LLaMA-1 7B", "CSQA", [61.7, 63.4, 59.4, 58.1, 62.6, 61.3, 61.3, 62.4, 62.7]),
            ("L4Q Table 2", "LLaMA-1 7B", "MMLU 0-shot", [32.5, 36.3, 28.3, 30.9, 33.0, 32.8, 34.5, 33.8, 34.9]),
            ("L4Q Table 2", "LLaMA-1 7B", "MMLU 5-shot", [35.1, 36.7, 32.7, 33.3, 35.1, 33.6, 35.6, 34.8, 35.7]),
            ("L4Q Table 2", "OpenLLaMA 3B", "CSQA", [54.8, 55.9, 50.7, 54.1, 54.2, 54.4, 54.5, 54.6, 55.0]),
            ("L4Q Table 3", "LLaMA-1 7B", "CSQA", [61.7, 63.4, 53.4, 56.5, 49.8, 59.1, 58.7, 60.7, 61.2]),
            ("L4Q Table 3", "LLaMA-1 7B", "MMLU 0-shot", [32.5, 36.3, 23.7, 29.0, 23.4, 27.7, 28.0, 30.6, 30.6]),
            ("L4Q Table 3", "LLaMA-1 7B", "MMLU 5-shot", [35.1, 36.7, 27.3, 31.6, 23.1, 31.5, 29.1, 31.5, 31.8]),
            ("L4Q Table 3", "OpenLLaMA 3B", "CSQA", [54.8, 55.9, 52.2, 50.0, 38.1, 51.0, 51.5, 53.2, 54.0]),
        ]
        return cells.flatMap { source, model, column, values in
            zip(paperMethods, values).map { PaperNumber(source, model: model, row: $0, column: column, $1) }
        }
    }()
}
