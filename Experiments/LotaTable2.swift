import Pipeline

/// LoTA-QAF Table 2 (appendix D) on SmolLM2-135M: how the ternary adapter moved during Alpaca
/// fine-tuning — the fractions of A_T and B_T entries that went up, down or stayed at their initial
/// value — and, beside it, how often the merged adjustment Ŵ fired on the integer codes, per bit
/// width. The rows are `LotaTable1`'s (and so `Table2`'s) LoTA-QAF stages: a by-product of their
/// runs, nothing is computed that those targets do not compute.
///
/// The paper counts one model (Llama-3.1-8B, rank 64) and reads "about one third of entries
/// changed, symmetrically in both directions"; the claims check the symmetry at each width.
public enum LotaTable2 {
    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let rows = LotaTable1.widths.flatMap { b in
            Table2.rows(bits: b, profile).filter { $0.label == "LoTA-QAF w\(b)" }.map {
                var row = $0
                row.paperRow = "LoTA-QAF"
                return row
            }
        }
        let adapter = "fraction of the ternary entries of A_T and B_T, final vs initial"
        let columns: [EvaluationSpec] = [
            .modelMetric("increased", paperColumn: "Increased", metric: "adapterIncreasedFraction", lowerIsBetter: false,
                         description: adapter + ": went up"),
            .modelMetric("decreased", paperColumn: "Decreased", metric: "adapterDecreasedFraction", lowerIsBetter: false,
                         description: adapter + ": went down"),
            .modelMetric("unchanged", paperColumn: "Unchanged", metric: "adapterUnchangedFraction", lowerIsBetter: false,
                         description: adapter + ": equal"),
            .modelMetric("codes changed", metric: "codesChangedFraction", lowerIsBetter: false,
                         description: "fraction of integer weights whose code the merged Ŵ moved one grid step"),
            .modelMetric("blocked at grid edge", metric: "boundaryBlocked", lowerIsBetter: true,
                         description: "threshold crossings the boundary masks stopped (code at 0 or 2^b − 1)"),
            .modelMetric("mean |μ|", metric: "meanAbsOffset", lowerIsBetter: true,
                         description: "mean |μ| per (row, group), in grid steps"),
        ]
        // Up and down within a factor 1.2 of each other: the paper's symmetry (17.26 % each).
        let claims = LotaTable1.widths.map { b in
            ClaimSpec.ratio("symmetric-w\(b)", "at \(b) bits the adapter entries move up about as often as down", source: "LoTA-QAF Table 2",
                            .init("LoTA-QAF w\(b)", "increased"), over: .init("LoTA-QAF w\(b)", "decreased"), atMost: 1.2, atLeast: 1 / 1.2)
        }
        return Manifest(
            id: "lota-table2", title: "LoTA-QAF Table 2 on SmolLM2-135M: ternary adapter changes after Alpaca fine-tuning",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: columns,
            paperModels: ["Llama-3.1-8B"], paperNumbers: paperNumbers, claims: claims, figureColumns: ["increased", "decreased", "unchanged"],
            notes: ["Paper numbers: Llama-3.1-8B, rank 64, 167,772,160 ternary entries (fractions of them); ours: rank 16 at 4, 3 and 2 bits.",
                    "The paper's table has no bit width and no per-code count; \"codes changed\", \"blocked\" and \"mean |μ|\" are ours."])
    }

    static let paperNumbers = [
        PaperNumber("LoTA-QAF Table 2", model: "Llama-3.1-8B", row: "LoTA-QAF", column: "Increased", 28_952_566 / 167_772_160),
        PaperNumber("LoTA-QAF Table 2", model: "Llama-3.1-8B", row: "LoTA-QAF", column: "Decreased", 28_960_070 / 167_772_160),
        PaperNumber("LoTA-QAF Table 2", model: "Llama-3.1-8B", row: "LoTA-QAF", column: "Unchanged", 109_859_524 / 167_772_160),
    ]
}
