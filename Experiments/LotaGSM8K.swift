import Pipeline

/// LoTA-QAF Table 1's task-specific regime on GSM8K (spec/lota-qaf.md §2.2, §3): SmolLM2-135M,
/// GPTQ g64 at 4, 3 and 2 bits; rows GPTQ alone, GPTQ + fp LoRA ("b+16", unmerged), QA-LoRA and
/// LoTA-QAF (both merged into the integers), the three fine-tuned on GSM8K train; scored by greedy
/// generation on GSM8K test (0-shot exact match of the text after the last "####"), beside the
/// paper's Llama-3.1-8B column. `LotaTable1` is the recovery (Alpaca, MMLU) half of the same table.
///
/// The rows are `Table2`'s (`LotaTable1`'s methods and widths) with only the data and budget
/// changed, so their method options are the unified table's: GPTQ+LoRA rank 4 (α 8 = 2r) and QA-LoRA
/// rank 8 (α 16) at the paper's task-specific learning rate 5e-4, LoTA-QAF r 16 with ω 12 = 0.75·r
/// and t-SignSGD's schedule over this run's real step count. The GPTQ quantize stages are the
/// other LoTA tables' (shared in the cache); every fine-tune here is new.
///
/// Budget, default profile. Fine-tuning: 8 sequences per step (`Base`: micro-batch 4 × 2). A GSM8K
/// example (prompt + worked answer + EOS) is 192 SmolLM2 tokens on average (median 179, p95 324,
/// max 544; 1,192 of the 7,473 exceed `Base`'s 256), so sequences are cut at 512 instead (5 cut) and
/// keep their "#### n" line: ≈ 1.5 k tokens per step, 10 steps = 80 examples ≈ 1.1 % of an epoch,
/// ≈ 15 k tokens ≈ 1.5–2 min per fine-tune on 2 cores (≈ 9 s per step, as LoRA's Alpaca steps).
/// Evaluation: 20 seeded test items per row, generated at batch 1 with the KV cache (≈ 70 decode
/// tokens/s for the fp32 model the pipeline evaluates, with the 2 cores to itself; decode splits
/// each product over both cores, and beside another busy process it runs at ≈ 18 tokens/s). The untuned model answers in 12–23 tokens and stops; a fine-tuned 4-bit row
/// should write a GSM8K-style solution of ≈ 120 tokens (≈ 2 s an item); a collapsed 2-bit row runs
/// to the 512-token cap (≈ 440 tokens, ≈ 7 s an item).
/// Cold, on an otherwise idle machine: 3 GPTQ (≈ 6 min) + 9 fine-tunes (≈ 15 min) + 12 × 20
/// generations (≈ 18 min; ≤ 30 if every row hit the cap) ≈ 40 min.
/// `full`: one epoch at 16 sequences per step (⌈7,473 / 16⌉ = 468 steps) and all 1,319 test items
/// (the paper: one epoch of 117 steps at batch 64). `tiny`: stories260K cannot hold a packed GPTQ
/// model (group 4), so `TinyMethods`' rows stand in, trained 4 steps on GSM8K and scored on 2 items.
public enum LotaGSM8K {
    static let trainFile = "Experiments/Data/gsm8k/train.jsonl"
    static let testFile = "Experiments/Data/gsm8k/test.jsonl"
    /// Fine-tuning examples are cut to this many tokens (the paper: 1,024 source + 256 target).
    static let sequenceLength = 512

    /// Optimizer steps and scored test items (0 = all) per profile.
    static func budget(_ profile: Profile) -> (steps: Int, items: Int) {
        switch profile {
        case .tiny: return (Base.settings(.tiny).steps, 2)
        case .quick: return (5, 10)
        case .default: return (10, 20)
        case .full: return ((7_473 + 15) / 16, 0)
        }
    }

    public static func manifest(_ profile: Profile) -> Manifest {
        let base = Base.settings(profile)
        let (steps, items) = budget(profile)
        let perStep = base.microBatch * base.accumulation
        let epochPermille = 1_000 * steps * perStep / 7_473
        // LotaTable1's rows without its untuned fp row: the same stages up to the fine-tuning data.
        let rows = profile == .tiny ? tinyRows(steps: steps)
            : LotaTable1.manifest(profile).rows.filter { $0.quantization != nil }.map { onGSM8K($0, steps: steps) }
        let protocolName = "0-shot exact match after the last ####, greedy to 512 tokens, prompt \"Question: …\\nAnswer: \" "
            + "(the fine-tuning format, no chat template)" + (items > 0 ? ", seeded subset of \(items) of 1,319" : ", all 1,319")
        let parameters: [String: Value] = ["items": .int(items), "maxLength": 512]
        let files = ["checksums": base.dataChecksums, "data": testFile]
        let accuracy = EvaluationSpec("GSM8K", paperColumn: "GSM8K", kind: "evaluate-gsm8k", metric: "accuracy", lowerIsBetter: false,
                                      protocolName: protocolName, parameters: parameters, files: files)
        // The same stage (same key), another of its numbers: whether the rows learnt the answer format.
        let format = EvaluationSpec("GSM8K #### rate", kind: "evaluate-gsm8k", metric: "answered", lowerIsBetter: false,
                                    protocolName: "share of the same generations that contain \"####\"", parameters: parameters, files: files)
        let labels = Set(rows.map(\.label))
        let claims = widths.flatMap { b in
            [("LoTA-QAF", "QA-LoRA"), ("GPTQ+LoRA", "LoTA-QAF")].map { better, worse in
                ClaimSpec("gsm8k-\(better.lowercased().filter(\.isLetter))-vs-\(worse.lowercased().filter(\.isLetter))-w\(b)",
                          "at \(b) bits \(better) solves more GSM8K problems than \(worse)", source: "LoTA-QAF Table 1 (task-specific)",
                          better: .init("\(better) w\(b)", accuracy.label), worse: .init("\(worse) w\(b)", accuracy.label))
            }
        }.filter { labels.contains($0.better.row) && labels.contains($0.worse.row) }
        return Manifest(
            id: "lota-gsm8k",
            title: profile == .tiny ? "LoTA-QAF's GSM8K regime on stories260K (pipeline check, not a paper table)"
                : "LoTA-QAF Table 1, task-specific GSM8K, on SmolLM2-135M: 4/3/2-bit GPTQ fine-tuned on GSM8K",
            profile: profile, seed: base.seed, model: base.model, rows: rows, evaluations: [accuracy, format],
            paperModels: ["Llama-3.1-8B"], paperNumbers: paperNumbers, claims: claims, figureColumns: [accuracy.label, format.label],
            notes: ["Paper numbers: GSM8K accuracy (%) of Llama-3.1-8B, group 64, rank 64 (ω 48), one epoch at batch 64; "
                        + "ours are fractions, rank 4/8/16 (ω 12 = 0.75·r).",
                    "Expect GSM8K near 0 at 135M (spec §6): the column is kept for the protocol, and the #### rate shows "
                        + "whether a row learnt the answer format at all.",
                    "GPTQ rows are not fine-tuned (the paper prints \"–\" for them): they answer in their own words, without ####.",
                    "Prompts are the fine-tuning format (\"Question: …\\nAnswer: \", BOS as the tokenizer adds it), not the paper's "
                        + "chat template; decoding is batch 1, so no padding counts against the 512 tokens.",
                    profile == .tiny ? "stories260K admits group 4 only, which packed GPTQ cannot store: TinyMethods' rows stand in "
                        + "(fp for GPTQ, fp LoRA for GPTQ+LoRA, QA-LoRA and LoTA-QAF on RTN)."
                        : "QA-LoRA and LoTA-QAF are merged integer models; GPTQ+LoRA keeps its fp adapter (\"b+16\").",
                    "This profile: \(steps) steps × \(perStep) GSM8K examples (\(epochPermille / 10).\(epochPermille % 10) % of an epoch), "
                        + (items > 0 ? "\(items) seeded test items per row (one item = \(100 / items) points)" : "all 1,319 test items")
                        + (profile == .default ? "; sized so a cold run stays under ≈ 45 min on 2 otherwise idle cores." : ".")])
    }

    static let widths = LotaTable1.widths

    /// `row` fine-tuned on GSM8K train (`gsm8k` format) for `steps` steps of sequences cut at
    /// `sequenceLength`, LoTA-QAF's t-SignSGD schedule stretched to the same steps; a row without
    /// fine-tuning is returned as it is.
    static func onGSM8K(_ row: RowSpec, steps: Int) -> RowSpec {
        var r = Table2.withSteps(row, steps)
        r.fineTuning?.data = trainFile
        r.fineTuning?.parameters["format"] = "gsm8k"
        r.fineTuning?.parameters["sequenceLength"] = .int(sequenceLength)
        return r
    }

    /// `TinyMethods`' rows that stand in for this table's under the tiny profile: the untuned model
    /// for GPTQ, fp LoRA for GPTQ+LoRA, QA-LoRA and LoTA-QAF on an RTN base.
    static func tinyRows(steps: Int) -> [RowSpec] {
        let kept = ["fp", "LoRA", "QA-LoRA w4", "LoTA-QAF w4"]
        return TinyMethods.manifest(.tiny).rows.filter { kept.contains($0.label) }.map { onGSM8K($0, steps: steps) }
    }

    /// LoTA-QAF Table 1, Llama-3.1-8B, GSM8K column (GPTQ rows: "–"), by width.
    static let paperNumbers: [PaperNumber] = {
        let gsm8k: [Int: [(String, Double)]] = [4: [("GPTQ+LoRA", 70.20), ("QA-LoRA", 68.69), ("LoTA-QAF", 70.05)],
                                                3: [("GPTQ+LoRA", 65.66), ("QA-LoRA", 62.17), ("LoTA-QAF", 63.53)],
                                                2: [("GPTQ+LoRA", 34.12), ("QA-LoRA", 17.36), ("LoTA-QAF", 19.48)]]
        return widths.flatMap { b in
            gsm8k[b]!.map { PaperNumber("LoTA-QAF Table 1", model: "Llama-3.1-8B", row: "\($0) w\(b)", column: "GSM8K", $1) }
        }
    }()
}
