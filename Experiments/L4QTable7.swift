import Pipeline

/// L4Q Tables 7 and 8 on SmolLM2-135M at 4 bits: the quantization group size inside L4Q, each
/// under `Table2`'s L4Q budget; CSQA-7 (Table 7), MMLU 0- and 5-shot (Table 8), WikiText-2
/// perplexity, and the deployed bits per weight. The paper's groups are 128, 64, 32; 128 does not
/// divide SmolLM2's 576-wide inputs, so our coarse group is 192 (576 = 3·192, 1536 = 8·192),
/// shown beside the paper's 128. The g64 row is `Table2`'s "L4Q w4" (shared cached stages).
///
/// The paper's finding: smaller groups give higher accuracy (≈ 0.3 CSQA, 1.2 MMLU points from
/// 128 to 32), at the cost of more scales.
public enum L4QTable7 {
    static let groups: [(size: Int, paper: String)] = [(192, "128"), (64, "64"), (32, "32")]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let rows = groups.map { g in
            Table2.variant(of: "L4Q w4", bits: 4, profile, as: "L4Q w4 g\(g.size)", paperRow: g.paper, ["groupSize": .int(g.size)])
        }
        let ppl = base.perplexity("WikiText-2 ppl")
        // LLaMA-2 7B: Table 7's CSQA average, Table 8's MMLU averages, for groups 128, 64, 32.
        let paper: [(String, [Double])] = [("CSQA", [63.6, 63.7, 63.9]), ("MMLU 0-shot", [40.9, 41.5, 42.1]), ("MMLU 5-shot", [45.5, 46.3, 46.7])]
        let claims = [("g32", "g64"), ("g64", "g192")].map { fine, coarse in
            ClaimSpec("l4q-\(fine)-vs-\(coarse)", "group \(fine.dropFirst()) beats group \(coarse.dropFirst())", source: "L4Q Tables 7–8",
                      better: .init("L4Q w4 \(fine)", ppl.label), worse: .init("L4Q w4 \(coarse)", ppl.label))
        }
        return Manifest(
            id: "l4q-table7", title: "L4Q Tables 7–8 on SmolLM2-135M (4-bit): quantization group size inside L4Q",
            profile: profile, seed: base.seed, model: base.model, rows: rows,
            evaluations: [base.commonsense(), base.mmlu(shots: 0), base.mmlu(shots: 5), ppl,
                          .modelMetric("bits per weight", metric: "bitsPerWeight", lowerIsBetter: true,
                                       description: "stored bits per linear-layer weight of the exported integer model, scales included")],
            paperModels: ["LLaMA-2 7B"],
            paperNumbers: paper.flatMap { column, values in
                zip(groups, values).map { PaperNumber("L4Q Tables 7–8", model: "LLaMA-2 7B", row: $0.paper, column: column, $1) }
            },
            claims: claims, figureColumns: [ppl.label],
            notes: ["Paper: LLaMA-2 7B under the main training conditions; its group 128 row stands beside our group 192 (128 does not divide 576)."])
    }
}
