import ArgumentParser
import Foundation
import Pipeline
import Tensor
import Training

/// `qaft finetune`: the `finetune.<method>` stage of one row (load-model → fine-tune), computed in
/// the cache (or reused from it; a killed run resumes from the stage's checkpoints when rerun with
/// the same arguments), its metrics printed and, with `-o`, its fine-tuned model written. Options
/// left unset are left out of the stage's parameters, so the stage's and the method's defaults
/// apply, as for a manifest row that does not set them.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model with a registered method on Alpaca, GSM8K or plain-text data: the pipeline's fine-tune stage, cached and resumable.")

    @Option(help: "Method name (see MethodRegistry), e.g. lora, qeft, gptq-lora.")
    var method = "lora"

    @Option(help: "Weight bits of quantizing methods.")
    var bits: Int?

    @Option(help: "Quantization group size.")
    var groupSize: Int?

    @Option(help: "QEFT/OWQ weak columns per layer.")
    var weakColumns: Int?

    @Option(help: "C4-style JSON Lines ({\"text\": ...}) to draw calibration windows from.")
    var calibrationData = "Experiments/Data/c4/c4_demo.jsonl"

    @Option(help: "Calibration windows (0: none; methods that need them then fail).")
    var calibrationWindows = 32

    @Option(help: "Tokens per calibration window.")
    var calibrationLength = 512

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Training data file.")
    var data: String

    @Option(help: "Data format: alpaca (JSON array; the default), gsm8k (JSON Lines), text (blank-line separated).")
    var format: InstructionData.Format?

    @Option(help: "Cut examples at this many tokens (the response end goes first).")
    var maxLength = 256

    @Option(help: "Examples held out to report the loss on before and after training (default 0).")
    var heldOut: Int?

    @Option(help: "Optimizer steps.")
    var steps = 100

    @Option(help: "Sequences per optimizer step (the effective batch): a multiple of --micro-batch-size.")
    var batchSize = 16

    @Option(help: "Sequences per forward–backward pass (batch-size / micro-batch-size = gradient accumulation).")
    var microBatchSize = 4

    @Option(help: "Peak learning rate.")
    var lr = 2e-4

    @Option(help: "Fraction of steps spent in linear warm-up before cosine decay (default 0.1).")
    var warmup: Double?

    @Option(help: "AdamW decoupled weight decay of the method's AdamW groups (default: the method's own).")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this (0: no clipping; default 1).")
    var clip: Double?

    @Option(help: "Adapter rank.")
    var rank: Int?

    @Option(help: "Adapter alpha (the adapter is scaled by alpha / rank).")
    var alpha: Double?

    @Option(help: "Adapter dropout on the adapter input.")
    var dropout: Double?

    @Option(help: "Comma-separated projections to adapt (q,k,v,o,gate,up,down; default all).")
    var targets: String?

    @Option(help: "Training products in fp32 (default) or bf16 (bf16 operands, fp32 accumulation, fp32 master weights; fp32 where the CPU lacks AVX512_BF16/AMX).")
    var precision: ComputePrecision = .fp32

    @Option(help: "Seed for initialisation, data order, dropout and the calibration draw.")
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: "Write the fine-tuned model here: a float GGUF (with the tokenizer, unless the source is a llama2.c checkpoint, whose tokenizer stays a separate file).")
    var output: String?

    @Option(help: "Write the deployed model here: codes, scales, zeros, adapters and weak columns as the method deployed them (what `qaft export` reads).")
    var deployed: String?

    static let stage = OneStage(command: "finetune", flags: [
        "model": "--model", "model.tokenizer": "--tokenizer", "method": "--method", "data": "--data", "format": "--format",
        "calibration": "--calibration-data", "calibrationWindows": "--calibration-windows", "calibrationLength": "--calibration-length",
        "steps": "--steps", "sequenceLength": "--max-length", "microBatch": "--micro-batch-size", "accumulation": "--batch-size",
        "learningRate": "--lr", "warmup": "--warmup", "weightDecay": "--weight-decay", "clip": "--clip", "heldOut": "--held-out",
        "bits": "--bits", "groupSize": "--group-size", "weakColumns": "--weak-columns", "rank": "--rank", "alpha": "--alpha",
        "dropout": "--dropout", "targets": "--targets", "precision": "--precision",
    ])

    func validate() throws {
        guard microBatchSize > 0 else { throw ValidationError("--micro-batch-size \(microBatchSize): expected ≥ 1") }
        guard batchSize > 0, batchSize % microBatchSize == 0 else {
            throw ValidationError("--batch-size \(batchSize): expected a positive multiple of --micro-batch-size \(microBatchSize) (a step accumulates whole micro-batches)")
        }
    }

    func run() throws {
        var p: [String: Value] = [
            "steps": .int(steps), "sequenceLength": .int(maxLength), "microBatch": .int(microBatchSize),
            "accumulation": .int(batchSize / microBatchSize), "learningRate": .double(lr),
            "calibrationWindows": .int(calibrationWindows), "calibrationLength": .int(calibrationLength),
            "precision": .string(precision.rawValue),
        ]
        for (name, v) in [("warmup", warmup), ("weightDecay", weightDecay), ("clip", clip), ("alpha", alpha), ("dropout", dropout)] {
            if let v { p[name] = .double(v) }
        }
        for (name, v) in [("heldOut", heldOut), ("bits", bits), ("groupSize", groupSize), ("weakColumns", weakColumns), ("rank", rank)] {
            if let v { p[name] = .int(v) }
        }
        if let format { p["format"] = .string(format.rawValue) }
        if let targets { p["targets"] = .list(targets.split(separator: ",").map { .string(String($0)) }) }
        let row = RowSpec(method, fineTuning: FineTuningSpec(method, data: data, parameters: p, calibration: calibrationData))
        let record = try Self.stage.run(row, model: modelOptions, cache: cacheOptions, seed: seed)
        let m = record.output.metrics
        for (label, key, format) in [("trainable parameters", "trainableParameters", "%.0f"), ("training sequences", "trainingSequences", "%.0f"),
                                     ("final loss (mean of the last 10 % of steps)", "finalLoss", "%.4f"),
                                     ("held-out loss before", "heldOutLossBefore", "%.4f"), ("held-out loss after", "heldOutLossAfter", "%.4f"),
                                     ("tokens/s", "tokensPerSecond", "%.1f")] {
            if let v = m[key] { print(label + ": " + String(format: format, v)) }
        }
        if let output {
            try OneStage.write(try ModelArtifact.modelFile(record), to: output)
            print("wrote \(output)")
        }
        if let deployed {
            try OneStage.write(try ModelArtifact.deployedFile(record), to: deployed)
            print("wrote \(deployed)")
        }
    }
}

extension InstructionData.Format: ExpressibleByArgument {}
