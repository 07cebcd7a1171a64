import Pipeline

/// L4Q Table 12 on SmolLM2-135M: decode throughput of the deployed models at batch sizes 1 … 64 —
/// L4Q's merged integer model against QLoRA*'s integer base with its unmerged fp adapter ("4&16")
/// and the float model (fp LoRA merged, standing in for FP16) — the paper's argument that a fully
/// quantized model serves faster. `Table2`'s rows (same keys: their fine-tunes are shared), timed
/// by one `DecodeSpeedStage` per row: greedy decode of `batch` sequences after a 64-token prompt
/// (`DecodeSpeed.throughput`), tokens per second on this machine's 2 cores, beside the paper's
/// ExLlamaV2 numbers on an A100 (LLaMA-1 7B). Compare the ratios, not the values.
public enum L4QTable12 {
    static let batches = [1, 2, 4, 8, 16, 32, 64]
    static let rowsUsed = [("L4Q w4", "L4Q"), ("QLoRA* w4", "QLoRA*"), ("LoRA (fp)", "None (fp16)")]

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let rows = rowsUsed.map { label, paper -> RowSpec in
            var row = Table2.rows(bits: 4, profile).first { $0.label == label }!
            row.paperRow = paper
            return row
        }
        // One stage per row times every batch size (same parameters, so the columns share it).
        let timing: [String: Value] = ["promptTokens": 64, "throughputBatches": .list(batches.map { .int($0) })]
        let columns = batches.map { b in
            EvaluationSpec("bs\(b)", paperColumn: "bs\(b)", kind: DecodeSpeedStage.kindName, metric: "throughputBatch\(b)", lowerIsBetter: false,
                           protocolName: "greedy decode tokens/s of \(b) sequences together after a 64-token prompt, deployed form, 2 cores",
                           parameters: timing, files: [:])
        }
        let claims = batches.map { b in
            ClaimSpec.ratio("l4q-vs-qlora-bs\(b)", "at batch \(b) L4Q's integer model decodes faster than QLoRA*'s 4&16",
                            source: "L4Q Table 12", .init("L4Q w4", "bs\(b)"), over: .init("QLoRA* w4", "bs\(b)"), atLeast: 1)
        }
        return Manifest(
            id: "l4q-table12", title: "Decode throughput by batch size on SmolLM2-135M: L4Q vs QLoRA* vs float (L4Q Table 12)",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: columns,
            paperModels: ["LLaMA-1 7B"], paperNumbers: paperNumbers, claims: claims, figureColumns: columns.map(\.label),
            notes: ["Paper numbers: LLaMA-1 7B tokens/s with ExLlamaV2 4-bit kernels on an A100; ours: this CPU's packed kernels.",
                    "The float row is the fp LoRA fine-tune merged (the speed of the FP16 model); the paper's fp16 run went out of memory at batch 64."])
    }

    static let paperNumbers: [PaperNumber] = {
        let table: [(String, [Double?])] = [("L4Q", [38.04, 75.12, 148.63, 216.51, 255.64, 276.43, 318.43]),
                                            ("QLoRA*", [24.80, 47.88, 96.51, 184.06, 234.79, 247.79, 299.94]),
                                            ("None (fp16)", [17.04, 33.81, 67.27, 124.13, 199.19, 241.31, nil])]
        return table.flatMap { row, values in
            zip(batches, values).compactMap { b, v in v.map { PaperNumber("L4Q Table 12", model: "LLaMA-1 7B", row: row, column: "bs\(b)", $0) } }
        }
    }()
}
