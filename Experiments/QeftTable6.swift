import Pipeline

/// QEFT's dense-part ablation (its Table 6, spec/qeft.md H-Tab6) on SmolLM2-135M at 4 and 3 bits
/// g64: the GPTQ part with OWQ's L2.4 search of each group's scale and zero against plain min-max
/// ranges, both with k = 16 tuned weak columns, beside RTN and GPTQ alone. The paper reports only
/// that the search is about 1 point better on a 6-task average at 4 bits. The searched rows are
/// `Table2`/`Table3`'s "QEFT w<b>" (shared cached stages).
public enum QeftTable6 {
    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        var rows: [RowSpec] = []
        for b in [4, 3] {
            rows += Table2.rows(bits: b, profile).filter { ["RTN w\(b)", "GPTQ w\(b)"].contains($0.label) } + [
                Table2.variant(of: "QEFT w\(b)", bits: b, profile, as: "QEFT w\(b), min-max ranges", ["extra": ["minMaxGrid": 1]]),
                Table2.variant(of: "QEFT w\(b)", bits: b, profile, as: "QEFT w\(b), L2.4 search"),
            ]
        }
        let ppl = base.perplexity("WikiText-2 ppl"), csqa = base.commonsense(paperColumn: nil)
        let claims = [4, 3].map { b in
            ClaimSpec("qeft-search-vs-minmax-w\(b)", "at \(b) bits the L2.4 range search beats min-max ranges",
                      source: "QEFT Table 6", better: .init("QEFT w\(b), L2.4 search", ppl.label),
                      worse: .init("QEFT w\(b), min-max ranges", ppl.label))
        }
        return Manifest(
            id: "qeft-table6", title: "QEFT dense-part ablation on SmolLM2-135M (g64): L2.4 range search vs min-max",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: [ppl, csqa],
            paperModels: [], paperNumbers: [], claims: claims, figureColumns: [ppl.label],
            notes: ["The paper's Table 6 cells were not recovered; its text says the search is about 1 point better (6-task average, 4 bits)."])
    }
}
