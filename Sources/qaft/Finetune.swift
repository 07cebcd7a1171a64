import ArgumentParser
import Foundation
import Methods
import Models
import Pipeline
import Quantization
import Tensor
import Training

/// `qaft finetune`: fine-tunes with any registered method (LoRA by default) on instruction data,
/// with checkpoints that resume exactly. Method options left unset take `MethodOptions`' defaults.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model with a registered method on Alpaca, GSM8K or plain-text data (resumes from --checkpoint if it exists).")

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

    @Option(help: "Training data file.")
    var data: String

    @Option(help: "Data format: alpaca (JSON array), gsm8k (JSON Lines), text (blank-line separated).")
    var format: String = "alpaca"

    @Option(help: "Cut examples at this many tokens (the response end goes first).")
    var maxLength = 256

    @Option(help: "Examples held out to report the loss on before and after training.")
    var heldOut = 0

    @Option(help: "Optimizer steps.")
    var steps = 100

    @Option(help: "Sequences per optimizer step (the effective batch).")
    var batchSize = 16

    @Option(help: "Sequences per forward–backward pass (batch-size / micro-batch-size = gradient accumulation).")
    var microBatchSize = 4

    @Option(help: "Peak learning rate.")
    var lr: Float = 2e-4

    @Option(help: "Fraction of steps spent in linear warm-up before cosine decay.")
    var warmup: Float = 0.1

    @Option(help: "AdamW decoupled weight decay of the method's AdamW groups (default: the method's own).")
    var weightDecay: Float?

    @Option(help: "Clip the global gradient norm to this (0: no clipping).")
    var clip: Float = 1

    @Option(help: "Adapter rank.")
    var rank: Int?

    @Option(help: "Adapter alpha (the adapter is scaled by alpha / rank).")
    var alpha: Float?

    @Option(help: "Adapter dropout on the adapter input.")
    var dropout: Float?

    @Option(help: "Comma-separated projections to adapt (q,k,v,o,gate,up,down; default all).")
    var targets: String?

    @Option(help: "Seed for initialisation, data order and dropout.")
    var seed: UInt64 = 0

    @Option(help: "Checkpoint file: resumed from when present, written atomically while training.")
    var checkpoint: String?

    @Option(help: "Write the checkpoint every this many steps (and at the end).")
    var checkpointEvery = 50

    func run() throws {
        guard let fmt = InstructionData.Format(rawValue: format) else {
            throw ValidationError("--format must be one of \(InstructionData.Format.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var options = MethodOptions()
        if let bits { options.bits = bits }
        if let groupSize { options.groupSize = groupSize }
        if let weakColumns { options.weakColumns = weakColumns }
        if let rank { options.rank = rank }
        if let alpha { options.alpha = alpha }
        if let dropout { options.dropout = dropout }
        if let targets {
            options.targets = try targets.split(separator: ",").map { name -> Projection in
                guard let p = Projection(rawValue: String(name)) else { throw ValidationError("--targets: unknown projection '\(name)'") }
                return p
            }
        }
        let method = try MethodRegistry.make(self.method, options: options)
        let loaded = try modelOptions.load()
        let examples = try InstructionData.load(URL(fileURLWithPath: data), format: fmt)
        let ds = try InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: maxLength,
                                        contextLength: loaded.config.contextLength, source: data)
        let (train, held) = heldOut > 0 ? ds.split(heldOut: heldOut, seed: seed) : (ds.sequences, [])
        let model = try method.prepare(MethodContext(weights: loaded.weights, calibration: try calibration(loaded), seed: seed))
        let groups = weightDecay.map { method.parameterGroups(model).withAdamWWeightDecay($0) } ?? method.parameterGroups(model)
        let config = TrainingConfig(
            steps: steps, batchSize: batchSize, microBatchSize: microBatchSize,
            schedule: LearningRateSchedule(peak: lr, warmupSteps: Int((warmup * Float(steps)).rounded()), totalSteps: steps),
            maxGradientNorm: clip > 0 ? clip : nil, seed: seed)
        guard !groups.isEmpty else {
            throw ValidationError("\(self.method) is a post-training method: it has nothing to fine-tune")
        }
        let trainer = try Trainer(model: model, groups: groups, data: train, config: config)
        let url = checkpoint.map { URL(fileURLWithPath: $0) }
        if let url, FileManager.default.fileExists(atPath: url.path) {
            try trainer.restore(url)
            if !modelOptions.quiet { Progress.note("resumed from \(url.path) at step \(trainer.step)") }
        }
        if !modelOptions.quiet {
            let n = model.trainableParameters.reduce(0) { $0 + $1.count }
            Progress.note("\(train.count) training sequences (\(ds.truncatedCount) truncated, \(ds.droppedCount) dropped), "
                          + "\(n) trainable parameters, \(steps) steps of \(batchSize)")
        }
        if !held.isEmpty { print(String(format: "held-out loss before: %.4f", try trainer.evaluate(held).meanNLL)) }
        let progress = Progress("finetune", quiet: modelOptions.quiet, resumedAt: trainer.step)
        try trainer.run(checkpoint: url, checkpointEvery: checkpointEvery) { p in
            progress.update(p.step, of: p.totalSteps, unit: "steps", extra: String(
                format: "loss %.4f · lr %.2e · %.0f tokens/s", p.loss, p.learningRate, p.tokensPerSecond))
        }
        if !held.isEmpty { print(String(format: "held-out loss after: %.4f", try trainer.evaluate(held).meanNLL)) }
    }

    /// Calibration windows from `--calibration-data` (JSON Lines of {"text": ...}), none when
    /// `--calibration-windows` is 0.
    private func calibration(_ loaded: LoadedModel) throws -> [[Int]] {
        guard calibrationWindows > 0 else { return [] }
        return try CalibrationText.windows(URL(fileURLWithPath: calibrationData), tokenizer: loaded.tokenizer, count: calibrationWindows,
                                           length: calibrationLength, seed: seed)
    }
}
