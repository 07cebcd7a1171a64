import Pipeline

/// L4Q Tables 13a/13b on SmolLM2-135M: the CSQA column of `Table2` and `Table3` per task, for L4Q's
/// methods at 4 and 3 bits (its rows, so every cell reads a cached evaluation of those tables:
/// nothing new is computed). Each task at lm-eval's reported metric (HellaSwag, ARC-c and OBQA
/// acc_norm; PIQA, ARC-e, WinoGrande and BoolQ acc), beside the paper's LLaMA-1 7B numbers
/// (spec/l4q.md, transcribed as printed). The default profile's 30 items per task give ± 9 points
/// per cell: the table shows where a method's average comes from, not per-task rankings.
public enum L4QTable13 {
    /// (column, task, metric) in the paper's column order.
    static let tasks = [("Hella", "hellaswag", "acc_norm"), ("PIQA", "piqa", "acc"), ("ARC-c", "arc_challenge", "acc_norm"),
                        ("ARC-e", "arc_easy", "acc"), ("Wino", "winogrande", "acc"), ("BoolQ", "boolq", "acc"),
                        ("OBQA", "openbookqa", "acc_norm")]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let columns = tasks.map { label, task, metric -> EvaluationSpec in
            var c = base.commonsense(label, paperColumn: label)
            c.metric = "\(task).\(metric)"
            return c
        } + [base.commonsense("Avg", paperColumn: "Avg")]
        return Manifest(
            id: "l4q-table13", title: "CSQA per task on SmolLM2-135M at 4 and 3 bits (L4Q Tables 13a/13b)",
            profile: profile, seed: base.seed, model: base.model, rows: rows(profile), evaluations: columns,
            paperModels: ["LLaMA-1 7B"], paperNumbers: numbers(paper, columns: columns.map(\.label), source: "L4Q Table 13"),
            claims: [], figureColumns: [],
            notes: ["Paper numbers: LLaMA-1 7B accuracies (%) from L4Q Tables 13a/13b; ours are fractions of the seeded subsets."])
    }

    /// L4Q's rows of `Table2` (4 bits) and `Table3` (3 bits) — fp, LoRA, GPTQ, OmniQuant, LoftQ*,
    /// QLoRA*, QA-LoRA, QAT-LoRA, L4Q — keyed for the paper's per-width rows ("GPTQ w4", …).
    static func rows(_ profile: Profile) -> [RowSpec] {
        let methods = Set(Table2.l4qMethods)
        return [RowSpec("fp", paperRow: "Pre-trained")] + [4, 3].flatMap { b in
            Table2.rows(bits: b, profile).filter { $0.paperRow.map(methods.contains) ?? false && !(b == 3 && $0.label == "LoRA (fp)") }.map {
                var row = $0
                if row.label != "LoRA (fp)" { row.paperRow = row.paperRow.map { "\($0) w\(b)" } }
                return row
            }
        }
    }

    /// A transcribed table as paper numbers: `table` rows of values in `columns` order.
    static func numbers(_ table: [(row: String, values: [Double])], columns: [String], source: String) -> [PaperNumber] {
        table.flatMap { row, values in
            zip(columns, values).map { PaperNumber(source, model: "LLaMA-1 7B", row: row, column: $0, $1) }
        }
    }

    /// LLaMA-1 7B, in `tasks` order then the average.
    static let paper: [(row: String, values: [Double])] = [
        ("Pre-trained", [57.0, 78.7, 41.9, 75.3, 69.9, 75.1, 34.4, 61.7]),
        ("LoRA", [58.3, 78.8, 45.7, 76.1, 70.6, 78.7, 35.4, 63.4]),
        ("GPTQ w4", [53.9, 77.7, 40.3, 73.5, 67.9, 72.9, 30.0, 59.4]),
        ("OmniQ w4", [55.7, 77.7, 38.8, 67.5, 65.3, 72.5, 29.2, 58.1]),
        ("LoftQ* w4", [57.8, 79.2, 43.1, 76.9, 69.8, 75.8, 35.4, 62.6]),
        ("QLoRA* w4", [56.7, 78.9, 41.8, 75.2, 70.0, 74.6, 32.2, 61.3]),
        ("QA-LoRA w4", [57.2, 78.9, 41.2, 74.9, 70.6, 73.6, 32.6, 61.3]),
        ("QAT-LoRA w4", [57.7, 78.9, 44.7, 75.3, 68.9, 75.8, 35.6, 62.4]),
        ("L4Q w4", [57.8, 79.1, 45.3, 76.0, 69.5, 76.1, 34.8, 62.7]),
        ("GPTQ w3", [46.6, 71.9, 32.4, 65.4, 65.0, 68.0, 24.6, 53.4]),
        ("OmniQ w3", [54.0, 77.1, 35.6, 64.9, 64.7, 71.2, 28.0, 56.5]),
        ("LoftQ* w3", [43.4, 68.9, 33.0, 65.5, 56.5, 58.5, 23.0, 49.8]),
        ("QLoRA* w3", [53.9, 76.2, 39.3, 71.5, 68.9, 72.8, 31.0, 59.1]),
        ("QA-LoRA w3", [55.4, 76.3, 39.8, 72.5, 69.5, 67.1, 30.6, 58.7]),
        ("QAT-LoRA w3", [56.1, 77.4, 41.6, 72.8, 68.0, 76.0, 33.0, 60.7]),
        ("L4Q w3", [55.9, 77.6, 42.1, 74.1, 68.9, 76.8, 33.4, 61.2]),
    ]
}
