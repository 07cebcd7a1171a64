import Pipeline

/// The method table in miniature, for the test suite: stories260K through fine-tuning by the
/// methods that need no packed storage (its FFN width 172 admits group 4 only), then perplexity
/// and the lm-eval tasks on a handful of items. It checks the machinery end to end (training,
/// export, artifacts, task scoring, report), not any paper claim.
public enum TinyMethods {
    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(.tiny)
        let lora: [String: Value] = ["rank": 2, "alpha": 4]
        let grid: [String: Value] = ["bits": 4, "groupSize": .int(base.groupSize)]
        func row(_ label: String, _ method: String, _ p: [String: Value]) -> RowSpec {
            RowSpec(label, fineTuning: base.fineTuning(method, ptq: false, learningRate: 1e-3, p))
        }
        let ppl = base.perplexity("ppl")
        return Manifest(
            id: "tinymethods", title: "stories260K fine-tuned by each method (pipeline check)", profile: profile,
            seed: base.seed, model: base.model,
            rows: ([RowSpec("fp"),
                   row("LoRA", "lora", lora),
                   row("QLoRA* w4", "qlora-uniform", lora.merging(grid) { a, _ in a }),
                   row("QA-LoRA w4", "qa-lora", lora.merging(grid) { a, _ in a }.merging(["extra": ["base": 0]]) { a, _ in a }),
                   row("LoTA-QAF w4", "lota-qaf", grid.merging(["rank": 4, "alpha": 4, "clip": 0, "extra": ["omega": 3, "steps": .int(base.steps), "base": 0]]) { a, _ in a }),
                   // Integer export packs groups of 16; stories260K's widths allow only per-channel scales.
                   row("L4Q w4 per-channel", "l4q", lora.merging(grid) { a, _ in a }.merging(["extra": ["perChannel": 1]]) { a, _ in a })]),
            evaluations: [ppl, base.commonsense(), base.mmlu(shots: 5), base.decodeSpeed(),
                          .modelMetric("peak GB", metric: "peakResidentGB", lowerIsBetter: true, description: "peak resident set while fine-tuning"),
                          .modelMetric("step s", metric: "stepSeconds", lowerIsBetter: true, description: "median optimizer-step time")],
            claims: [ClaimSpec("lora-vs-l4q", "a float LoRA fits better than a 4-bit L4Q model", source: "sanity check",
                               better: .init("LoRA", ppl.label), worse: .init("L4Q w4 per-channel", ppl.label))],
            figureColumns: [ppl.label],
            scatters: [ScatterSpec("perplexity-vs-speed", title: "perplexity against decode speed",
                                   x: Base.decodeAxis,
                                   y: .init(.column(ppl.label), label: "perplexity", higherIsBetter: false))],
            notes: ["A framework check on stories260K, not a paper table."])
    }
}
