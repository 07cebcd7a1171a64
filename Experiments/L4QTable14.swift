import Pipeline

/// L4Q Tables 14a/14b on SmolLM2-135M: the MMLU columns of `Table2` and `Table3` per category
/// (humanities, STEM, social sciences, other; lm-eval's groups, size-weighted over their subjects),
/// 0- and 5-shot, for L4Q's methods at 4 and 3 bits (`L4QTable13.rows`: cached evaluations of those
/// tables, nothing new computed), beside the paper's LLaMA-1 7B numbers (spec/l4q.md, transcribed as
/// printed). With the default profile's 1 question per subject (5-shot: 3 in each of 12 seeded
/// subjects) a category holds 3–36 questions: read it as where the MMLU average comes from.
public enum L4QTable14 {
    static let categories = [("Human.", "mmlu_humanities"), ("STEM", "mmlu_stem"), ("Social", "mmlu_social_sciences"), ("Others", "mmlu_other")]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let columns = [0, 5].flatMap { shots in
            categories.map { label, group -> EvaluationSpec in
                var c = base.mmlu(shots: shots)
                c.label = "\(shots)s \(label)"
                c.paperColumn = c.label
                c.metric = "\(group).acc"
                return c
            } + [{ var c = base.mmlu(shots: shots); c.label = "\(shots)s Avg"; c.paperColumn = c.label; return c }()]
        }
        return Manifest(
            id: "l4q-table14", title: "MMLU per category on SmolLM2-135M at 4 and 3 bits (L4Q Tables 14a/14b)",
            profile: profile, seed: base.seed, model: base.model, rows: L4QTable13.rows(profile), evaluations: columns,
            paperModels: ["LLaMA-1 7B"],
            paperNumbers: L4QTable13.numbers(paper, columns: columns.map(\.label), source: "L4Q Table 14"),
            claims: [], figureColumns: [],
            notes: ["Paper numbers: LLaMA-1 7B accuracies (%) from L4Q Tables 14a/14b; ours are fractions of the seeded subsets."])
    }

    /// LLaMA-1 7B: humanities, STEM, social sciences, other, average; 0-shot then 5-shot.
    static let paper: [(row: String, values: [Double])] = [
        ("Pre-trained", [32.9, 26.9, 32.1, 37.3, 32.5, 33.9, 30.6, 38.2, 38.2, 35.1]),
        ("LoRA", [36.1, 31.5, 36.9, 40.6, 36.3, 34.4, 30.3, 39.9, 43.1, 36.7]),
        ("GPTQ w4", [28.4, 27.1, 27.0, 30.4, 28.3, 31.5, 30.4, 33.7, 35.7, 32.7]),
        ("OmniQ w4", [31.1, 26.7, 29.8, 35.5, 30.9, 31.1, 29.8, 35.5, 37.5, 33.3]),
        ("LoftQ* w4", [32.3, 30.0, 32.7, 37.3, 33.0, 33.6, 30.7, 37.2, 39.0, 35.1]),
        ("QLoRA* w4", [33.1, 27.1, 33.1, 37.5, 32.8, 32.3, 29.0, 35.4, 38.0, 33.6]),
        ("QA-LoRA w4", [33.5, 29.5, 37.5, 37.9, 34.5, 34.1, 31.2, 38.5, 39.0, 35.6]),
        ("QAT-LoRA w4", [33.5, 29.5, 34.6, 37.4, 33.8, 32.2, 32.4, 35.6, 39.9, 34.8]),
        ("L4Q w4", [32.4, 32.1, 36.7, 39.4, 34.9, 34.2, 30.7, 38.4, 39.8, 35.7]),
        ("GPTQ w3", [25.0, 22.5, 22.0, 24.5, 23.7, 25.9, 25.7, 28.2, 29.7, 27.3]),
        ("OmniQ w3", [27.8, 29.7, 26.8, 32.2, 29.0, 31.6, 32.1, 33.7, 29.7, 31.6]),
        ("LoftQ* w3", [24.3, 21.7, 22.4, 24.5, 23.4, 23.4, 23.2, 21.9, 23.5, 23.1]),
        ("QLoRA* w3", [27.8, 27.1, 26.6, 29.1, 27.7, 30.5, 28.6, 32.1, 34.9, 31.5]),
        ("QA-LoRA w3", [28.9, 27.1, 25.8, 29.6, 28.0, 29.1, 26.6, 29.7, 31.1, 29.1]),
        ("QAT-LoRA w3", [28.2, 29.7, 32.0, 33.7, 30.6, 29.8, 29.2, 32.2, 34.6, 31.5]),
        ("L4Q w3", [29.5, 27.8, 32.1, 33.3, 30.6, 29.3, 31.0, 33.5, 30.4, 31.8]),
    ]
}
