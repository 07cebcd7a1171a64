import Pipeline

/// QEFT Figure 1, the Pareto pair, on SmolLM2-135M at 4 bits: (left) accuracy against decode
/// speed, (right) fine-tuning time against decode speed, with our perplexity as a second, less
/// noisy quality axis. spec/qeft.md recovered no point of the paper's plots, so there are no paper
/// numbers; the claim to test is C5/C6: QEFT's packed codes with a contiguous fp tail decode about
/// as fast as plain INT4 and faster than an unmerged adapter, and weak-column tuning (only the
/// (out, k) fp blocks train) is the cheapest fine-tuning, so QEFT sits on both fronts.
///
/// Rows are `Table2`'s (same budgets and stage keys: their models and evaluations are shared), each
/// timing its deployed model (`Base.decodeSpeed`: merged integer layers on the packed kernels,
/// QEFT's mixed layout, QLoRA's NF4 base dequantized per product with its fp LoRA, LoRA merged into
/// fp32). "LoRA (fp)" stands for FP16 (same speed).
/// The speed is this machine's, measured while the stage runs alone. An untuned OWQ row (the same k
/// fp columns, each layer's own set, gathered at run time) is the contrast of claim C5.
public enum QeftFigure1 {
    static let labels = ["LoRA (fp)", "QLoRA (NF4)", "QA-LoRA w4", "GPTQ w4", "QEFT w4", "LoTA-QAF w4", "L4Q w4"]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        // OWQ: the same k = 16 fp columns per layer, each layer's own set gathered at run time
        // (claim C5's contrast to QEFT's contiguous tail), untuned.
        let owq = RowSpec("OWQ w4 (gather)", quantization: base.quantization("owq", bits: 4, parameters: ["weakColumns": 16]))
        let rows = Table2.rows(bits: 4, profile).filter { labels.contains($0.label) } + [owq]
        let csqa = base.commonsense(paperColumn: nil), ppl = base.perplexity("WikiText-2 ppl")
        let speed = base.decodeSpeed(), decode = Base.decodeAxis
        return Manifest(
            id: "qeft-figure1", title: "QEFT Figure 1 on SmolLM2-135M (4-bit, g64): quality and fine-tuning time against decode speed",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: [csqa, ppl, speed] + base.llamaCppSpeed(),
            claims: [ClaimSpec.ratio("qeft-tail-vs-owq-gather", "QEFT's contiguous fp tail decodes faster than OWQ's gathered columns",
                                     source: "spec/qeft.md §6, C5", .init("QEFT w4", speed.label), over: .init("OWQ w4 (gather)", speed.label),
                                     atLeast: 1),
                     ClaimSpec.ratio("qeft-vs-int4", "QEFT decodes about as fast as plain INT4 (≥ 0.8×)", source: "spec/qeft.md §6, C5",
                                     .init("QEFT w4", speed.label), over: .init("GPTQ w4", speed.label), atLeast: 0.8)],
            scatters: [
                ScatterSpec("accuracy-vs-speed", title: "CSQA-7 accuracy against decode speed", x: decode,
                            y: .init(.column(csqa.label), label: "CSQA-7 accuracy", higherIsBetter: true), companion: Base.llamaCppCompanion),
                ScatterSpec("perplexity-vs-speed", title: "WikiText-2 perplexity against decode speed", x: decode,
                            y: .init(.column(ppl.label), label: "WikiText-2 perplexity", higherIsBetter: false), companion: Base.llamaCppCompanion),
                ScatterSpec("finetuning-time-vs-speed", title: "Fine-tuning time against decode speed", x: decode,
                            y: .init(.model("trainSeconds"), label: "fine-tuning seconds (this profile's budget)", higherIsBetter: false), companion: Base.llamaCppCompanion),
            ],
            notes: ["No paper numbers: spec/qeft.md recovered none of Figure 1's coordinates.",
                    "Speeds are batch-1 decode after a 64-token prompt on this 2-core CPU (ours), not the paper's GPU kernels.",
                    Base.llamaCppNote,
                    "QLoRA's NF4 layers dequantize per product (bitsandbytes' matmul path); a fused 4-bit GEMV would be faster.",
                    "Fine-tuning time: PTQ-based rows train twice the steps of QAT-based ones (L4Q §2), as in Table2; GPTQ has none."])
    }
}
