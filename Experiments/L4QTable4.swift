import Pipeline

/// L4Q Table 4 and Figure 3 on SmolLM2-135M at 4 bits g64: the four initializations of the
/// quantization parameters inside L4Q (App. B) — LSQ+init, Symm, Asymm and L4Q_init — each
/// fine-tuned under `Table2`'s L4Q budget, with the quantization error E_quant = Σ(W − W_q)² and the
/// clipping error E_clip = Σ(W − clamp(W))² summed over every quantized layer at the start and
/// after training, MMLU 5-shot (the paper's column) and our WikiText-2 perplexity. The L4Q_init
/// row is `Table2`'s "L4Q w4", so it comes from the same cached stages.
///
/// The paper's claim: LSQ+init collapses, Symm clips, Asymm starts without clipping but clips more
/// as the weights move, and L4Q_init ends with the least clipping and the best accuracy.
public enum L4QTable4 {
    /// `extra.init` of `L4Q`, in the paper's row order.
    static let initializations: [(label: String, paper: String, code: Int)] = [
        ("LSQ+init", "LSQ+", 3), ("Symm", "Symm", 2), ("Asymm", "Asymm", 1), ("L4Q_init", "L4Q", 0),
    ]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        // The default (0) stays implicit so the L4Q_init row keeps Table 2's cache key.
        let rows = initializations.map { i in
            Table2.variant(of: "L4Q w4", bits: 4, profile, as: "L4Q w4, \(i.label)", paperRow: i.paper,
                           i.code == 0 ? [:] : ["extra": ["init": .int(i.code)]])
        }
        let errors = "summed over every quantized layer's merged weight W0 + αBA"
        let evaluations: [EvaluationSpec] = [
            base.mmlu(shots: 5), base.perplexity("WikiText-2 ppl"),
            .modelMetric("E_quant init", paperColumn: "Init E_quant (1e6)", metric: "initQuantizationError", lowerIsBetter: true,
                         description: "Σ(W − W_q)² at the start, " + errors),
            .modelMetric("E_clip init", paperColumn: "Init E_clip (1e3)", metric: "initClippingError", lowerIsBetter: true,
                         description: "Σ(W − clamp(W, s·Q_N + b, s·Q_P + b))² at the start, " + errors),
            .modelMetric("E_quant post", paperColumn: "Post E_quant (1e6)", metric: "postQuantizationError", lowerIsBetter: true,
                         description: "Σ(W − W_q)² after fine-tuning, " + errors),
            .modelMetric("E_clip post", paperColumn: "Post E_clip (1e3)", metric: "postClippingError", lowerIsBetter: true,
                         description: "Σ(W − clamp(W))² after fine-tuning, " + errors),
        ]
        // LLaMA-2 7B, 4 bits, 12,800 iterations × batch 128: MMLU 5-shot average and the errors.
        let paper: [(String, [Double])] = [("LSQ+", [25.7, 11.8, 278.0, 11.8, 360.6]), ("Symm", [43.5, 11.1, 260.0, 11.0, 282.1]),
                                           ("Asymm", [44.2, 10.5, 0.0, 10.5, 64.7]), ("L4Q", [45.3, 11.4, 0.0, 11.6, 36.1])]
        let columns = ["MMLU 5-shot", "Init E_quant (1e6)", "Init E_clip (1e3)", "Post E_quant (1e6)", "Post E_clip (1e3)"]
        let claims = initializations.dropLast().map { i in
            ClaimSpec("l4q-init-vs-\(i.paper.lowercased().filter(\.isLetter))", "L4Q_init ends better than \(i.label)",
                      source: "L4Q Table 4 / Figure 3", better: .init("L4Q w4, L4Q_init", "WikiText-2 ppl"),
                      worse: .init("L4Q w4, \(i.label)", "WikiText-2 ppl"))
        }
        return Manifest(
            id: "l4q-table4", title: "L4Q Table 4 / Figure 3 on SmolLM2-135M (4-bit, g64): initialization of s and b inside L4Q",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: evaluations,
            paperModels: ["LLaMA-2 7B"],
            paperNumbers: paper.flatMap { row, values in
                zip(columns, values).map { PaperNumber("L4Q Table 4", model: "LLaMA-2 7B", row: row, column: $0, $1) }
            },
            claims: claims, figureColumns: ["E_clip init", "E_clip post"],
            notes: ["Paper: LLaMA-2 7B, 4 bits, 12,800 iterations × batch 128; E_quant in units of 1e6 and E_clip of 1e3 (its sums over a 7B model); ours are raw sums over SmolLM2-135M, so compare orderings.",
                    "E_clip of L4Q_init and Asymm at the start is zero up to float rounding: their grids span each group's range."])
    }
}
