import Pipeline

/// L4Q Tables 5 and 6 on SmolLM2-135M at 4 bits g64: the LoRA rank inside L4Q, r ∈ {1, 2, 4, …,
/// 128} with α = 2r (so the update's scale α/r = 2 stays Table 2's), each under `Table2`'s L4Q
/// budget; CSQA-7 (Table 5), MMLU 0- and 5-shot (Table 6) and our WikiText-2 perplexity. The r = 4
/// row is `Table2`'s "L4Q w4" (shared cached stages). At r = 128 the adapter is 22 % of the
/// 576-wide hidden size, where the paper's 128 is 3 % of LLaMA-2 7B's 4096.
///
/// The paper's conclusion: above r = 4 nothing gains significantly (its spread is ≈ 0.6 points).
public enum L4QTable5 {
    static let ranks = [1, 2, 4, 8, 16, 32, 64, 128]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let rows = ranks.map { r in
            Table2.variant(of: "L4Q w4", bits: 4, profile, as: "L4Q w4 r\(r)", paperRow: String(r), ["rank": .int(r), "alpha": .int(2 * r)])
        }
        let ppl = base.perplexity("WikiText-2 ppl")
        // LLaMA-2 7B (12,800 iterations × batch 128): Table 5's CSQA average, Table 6's MMLU averages.
        let paper: [(String, [Double])] = [
            ("CSQA", [62.6, 62.6, 63.0, 63.1, 62.8, 63.2, 63.1, 63.0]),
            ("MMLU 0-shot", [39.4, 38.4, 38.7, 41.0, 41.3, 41.3, 41.7, 40.7]),
            ("MMLU 5-shot", [43.5, 43.7, 44.9, 45.0, 44.3, 44.4, 45.6, 44.9]),
        ]
        let claims = [16, 128].map { r in
            ClaimSpec("l4q-rank\(r)-vs-rank4", "rank \(r) gains over rank 4 (the paper finds no significant gain)",
                      source: "L4Q Tables 5–6", better: .init("L4Q w4 r\(r)", ppl.label), worse: .init("L4Q w4 r4", ppl.label))
        }
        return Manifest(
            id: "l4q-table5", title: "L4Q Tables 5–6 on SmolLM2-135M (4-bit, g64): LoRA rank inside L4Q",
            profile: profile, seed: base.seed, model: base.model, rows: rows,
            evaluations: [base.commonsense(), base.mmlu(shots: 0), base.mmlu(shots: 5), ppl],
            paperModels: ["LLaMA-2 7B"],
            paperNumbers: paper.flatMap { column, values in
                zip(ranks, values).map { PaperNumber("L4Q Tables 5–6", model: "LLaMA-2 7B", row: String($0), column: column, $1) }
            },
            claims: claims, figureColumns: [ppl.label],
            notes: ["Paper: LLaMA-2 7B, 4 bits, 12,800 iterations × batch 128 (Table 5 CSQA, Table 6 MMLU averages); α is not given, ours is 2r.",
                    "A claim that \"holds\" here contradicts the paper's no-gain conclusion; one that does not is consistent with it."])
    }
}
