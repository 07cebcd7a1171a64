import Pipeline

/// How long to fine-tune (L4Q Figure 5's question, widened to five methods): L4Q, QLoRA*, QA-LoRA,
/// LoTA-QAF and QEFT at 4 and 3 bits, each trained for ¼, ½ and one epoch of the Alpaca data
/// (what is left after the held-out split, at the profile's sequences per step), with the tables'
/// learning-rate rule and `Table2`'s rows otherwise unchanged. Columns: WikiText-2 perplexity of the
/// deployed model at each budget and the final held-out loss; `Results/budget-heldout.csv` and its
/// figure carry every row's held-out loss every `heldOutEvery` steps, `budget-loss.csv` the
/// training loss. Where the held-out curve of the one-epoch row flattens is the budget the default
/// profile should spend (keeping the papers' QAT : PTQ = 0.5 : 1 ratio).
///
/// Cost, default profile: 5 methods × 2 widths × (¼ + ½ + 1) epoch = 30 fine-tunes, 216 steps of 8
/// sequences per method and width (≈ 5–9 s per step on 2 cores): ≈ 3–5 hours on one machine, or a
/// few stages per node on a cluster (`--executor slurm`).
public enum Budget {
    static let methods = ["L4Q", "QLoRA*", "QA-LoRA", "LoTA-QAF", "QEFT"]
    static let fractions: [(label: String, value: Double)] = [("¼", 0.25), ("½", 0.5), ("1", 1)]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        // The tiny profile's one-document text gives no epoch to speak of: its 4-step budget is the "epoch".
        let epoch = profile == .tiny ? base.steps : base.epochSteps
        let rows = [4, 3].flatMap { b in
            Table2.rows(bits: b, profile).filter { r in methods.contains { r.label == "\($0) w\(b)" } }.flatMap { row in
                fractions.map { fraction, value -> RowSpec in
                    var r = Table2.withSteps(row, max(1, Int((value * Double(epoch)).rounded())))
                    r.label = "\(row.label), \(fraction) epoch"
                    r.paperRow = nil
                    return r
                }
            }
        }
        let ppl = base.perplexity("WikiText-2 ppl")
        let heldOut = EvaluationSpec.modelMetric("held-out loss", metric: "heldOutLossAfter", lowerIsBetter: true,
                                                 description: "mean NLL per response token on the \(base.heldOut) held-out examples, after training")
        let claims = [4, 3].flatMap { b in
            methods.map { m in
                ClaimSpec("budget-\(m.lowercased().filter(\.isLetter))-w\(b)", "at \(b) bits \(m) keeps improving from ½ to one epoch",
                          source: "L4Q Figure 5 (widened)", better: .init("\(m) w\(b), 1 epoch", ppl.label), worse: .init("\(m) w\(b), ½ epoch", ppl.label))
            }
        }
        return Manifest(
            id: "budget", title: "Fine-tuning budget on SmolLM2-135M: ¼, ½ and 1 epoch of Alpaca at 4 and 3 bits",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: [ppl, heldOut],
            paperModels: [], paperNumbers: [], claims: claims, figureColumns: [ppl.label],
            notes: ["One epoch = \(epoch) steps of \(base.microBatch * base.accumulation) sequences; held-out loss every \(base.heldOutEvery) steps (`-heldout.csv`).",
                    "The papers' budgets: L4Q 25K QAT vs 50K PTQ iterations (0.5 : 1); QEFT and LoTA-QAF one epoch."])
    }
}
