import Pipeline

/// The "Pre-trained" row every table starts from, task by task: SmolLM2-135M-Instruct unquantized
/// on the seven commonsense tasks (acc and, where lm-eval reports it, acc_norm, with their mean
/// "CSQA-7"), MMLU 0- and 5-shot in lm-eval's letter format and in its continuation (cloze)
/// variant, and WikiText-2 perplexity. Beside ours: L4Q Table 13's fp16 LLaMA-1 7B row (per task,
/// unnormalised acc, spec/l4q.md) and the MMLU "Pre-trained" numbers of L4Q Table 2 and LoTA-QAF
/// Table 1.
///
/// Every per-task column reads the one 7-task stage (same parameters, same cache key), which
/// checkpoints after each task and records each task's wall seconds (`<task>.seconds`). In the
/// `full` profile every item of every set is scored (`make reproduce-pretrained PROFILE=full`,
/// hours: the whole 5-shot MMLU alone is ≈ 14 k prompts of ≈ 600 tokens behind a shared prefix).
public enum Pretrained {
    /// lm-eval task name, our column name, L4Q Table 13's column name, whether lm-eval reports acc_norm.
    static let tasks: [(task: String, label: String, paper: String, normalized: Bool)] = [
        ("hellaswag", "HellaSwag", "Hella", true), ("piqa", "PIQA", "PIQA", true), ("arc_challenge", "ARC-c", "ARC-c", true),
        ("arc_easy", "ARC-e", "ARC-e", true), ("winogrande", "WinoGrande", "Wino", false), ("boolq", "BoolQ", "BoolQ", false),
        ("openbookqa", "OBQA", "OBQA", true),
    ]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let csqa = base.commonsense("CSQA-7", paperColumn: "Avg")
        var columns = [csqa]
        for t in tasks {
            for metric in t.normalized ? ["acc", "acc_norm"] : ["acc"] {
                var c = csqa
                c.label = "\(t.label) \(metric)"
                c.paperColumn = metric == "acc" ? t.paper : nil
                c.metric = "\(t.task).\(metric)"
                c.protocolName = "0-shot \(metric) (lm-eval \(t.task))" + (base.commonsenseItems > 0 ? ", seeded subset of \(base.commonsenseItems)" : ", all items")
                columns.append(c)
            }
        }
        columns += [base.mmlu(shots: 0), base.mmlu(shots: 5), base.mmlu(shots: 0, cloze: true), base.mmlu(shots: 5, cloze: true),
                    base.perplexity("WikiText-2 ppl")]
        return Manifest(
            id: "pretrained", title: "SmolLM2-135M-Instruct before any quantization: every task and protocol",
            profile: profile, seed: base.seed, model: base.model, rows: [RowSpec("fp", paperRow: "Pre-trained")],
            evaluations: columns, paperModels: ["LLaMA-1 7B", "Llama-3.1-8B"], paperNumbers: paperNumbers,
            notes: ["Paper numbers: fp16 LLaMA-1 7B (L4Q Tables 13b and 2; per-task columns are lm-eval's unnormalised acc, spec/l4q.md) and Llama-3.1-8B (LoTA-QAF Table 1, MMLU 5-shot).",
                    "CSQA-7 is the plain mean of the tasks' reported metrics (acc_norm for HellaSwag, ARC-c and OBQA as lm-eval's leaderboards quote them; acc elsewhere), so it differs from L4Q's all-acc average.",
                    "MMLU cloze scores the answer texts (mmlu_continuation); the letter format sits near chance at 135M."])
    }

    static let paperNumbers: [PaperNumber] =
        zip(tasks.map(\.paper) + ["Avg"], [57.0, 78.7, 41.9, 75.3, 69.9, 75.1, 34.4, 61.7]).map {
            PaperNumber("L4Q Table 13b", model: "LLaMA-1 7B", row: "Pre-trained", column: $0, $1)
        } + [PaperNumber("L4Q Table 2", model: "LLaMA-1 7B", row: "Pre-trained", column: "MMLU 0-shot", 32.5),
             PaperNumber("L4Q Table 2", model: "LLaMA-1 7B", row: "Pre-trained", column: "MMLU 5-shot", 35.1),
             PaperNumber("LoTA-QAF Table 1", model: "Llama-3.1-8B", row: "Pre-trained", column: "MMLU 5-shot", 68.25)]
}
