import Pipeline

/// L4Q Figure 1 on SmolLM2-135M at 4 bits: CSQA accuracy against inference speed, where fully
/// integer models (GPTQ, QA-LoRA, L4Q) decode on the packed kernels and "4&16" models (QLoRA,
/// LoftQ*, QAT-LoRA) pay for their fp adapter path. The paper plots speed-up over fp16 on an A100
/// (ExLlamaV2); we plot our batch-1 decode tokens/s on 2 cores (speed-up = ratio to the LoRA (fp)
/// row, which decodes as the fp model). Rows and budgets are `Table2`'s; the paper's CSQA values
/// (LLaMA-1 7B, read off the chart, ±0.2) stand beside ours.
public enum L4QFigure1 {
    /// Our row → Figure 1's point.
    static let rowsAndPaper: [(String, String?)] = [
        ("LoRA (fp)", nil), ("LoftQ* w4", "LoftQ"), ("QAT-LoRA w4", "QAT-LoRA"), ("QLoRA (NF4)", "QLoRA"),
        ("QA-LoRA w4", "QA-LoRA"), ("GPTQ w4", "GPTQ"), ("L4Q w4", "L4Q"),
    ]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let table = Table2.rows(bits: 4, profile)
        let rows = rowsAndPaper.compactMap { label, paper -> RowSpec? in
            guard var r = table.first(where: { $0.label == label }) else { return nil }
            r.paperRow = paper
            return r
        }
        let csqa = base.commonsense()
        // Figure 1, read off the chart: (speed-up over fp16, CSQA %).
        let chart: [(String, Double, Double)] = [("Pre-trained", 1.0, 61.7), ("LoftQ", 1.35, 62.3), ("QAT-LoRA", 1.35, 62.2), ("QLoRA", 1.35, 61.2),
                                                 ("QA-LoRA", 1.8, 61.3), ("GPTQ", 1.8, 59.2), ("L4Q", 1.8, 62.8)]
        return Manifest(
            id: "l4q-figure1", title: "L4Q Figure 1 on SmolLM2-135M (4-bit, g64): CSQA accuracy against decode speed",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: [csqa, base.decodeSpeed()] + base.llamaCppSpeed(),
            paperModels: ["LLaMA-1 7B"],
            paperNumbers: chart.map { PaperNumber("L4Q Figure 1 (read off the chart)", model: "LLaMA-1 7B", row: $0.0, column: "CSQA", $0.2) },
            scatters: [ScatterSpec("accuracy-vs-speed", title: "CSQA-7 accuracy against decode speed",
                                   x: Base.decodeAxis,
                                   y: .init(.column(csqa.label), label: "CSQA-7 accuracy", higherIsBetter: true),
                                   companion: Base.llamaCppCompanion)],
            notes: ["Paper speed-ups over fp16 (A100, ExLlamaV2, read off the chart): " + chart.map { "\($0.0) \($0.1)×" }.joined(separator: ", ") + ".",
                    "Ours: batch-1 decode tokens/s after a 64-token prompt on this 2-core CPU; LoRA (fp) is the fp32 speed.",
                    "QLoRA's NF4 layers dequantize per product (bitsandbytes' matmul path).", Base.llamaCppNote])
    }
}
