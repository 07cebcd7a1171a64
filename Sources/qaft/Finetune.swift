import ArgumentParser
import Foundation
import Models
import Tensor
import Training

/// `qaft finetune`: LoRA fine-tuning on instruction data, with checkpoints that resume exactly.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "LoRA fine-tune a model on Alpaca, GSM8K or plain-text data (resumes from --checkpoint if it exists).")

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

    @Option(help: "AdamW decoupled weight decay.")
    var weightDecay: Float = 0.01

    @Option(help: "Clip the global gradient norm to this (0: no clipping).")
    var clip: Float = 1

    @Option(help: "LoRA rank.")
    var rank = 16

    @Option(help: "LoRA alpha (the adapter is scaled by alpha / rank).")
    var alpha: Float = 32

    @Option(help: "LoRA dropout on the adapter input.")
    var dropout: Float = 0

    @Option(help: "Comma-separated projections to adapt (q,k,v,o,gate,up,down).")
    var targets = "q,k,v,o,gate,up,down"

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
        let projections = try targets.split(separator: ",").map { name -> Projection in
            guard let p = Projection(rawValue: String(name)) else { throw ValidationError("--targets: unknown projection '\(name)'") }
            return p
        }
        let loaded = try modelOptions.load()
        let examples = try InstructionData.load(URL(fileURLWithPath: data), format: fmt)
        let ds = try InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: maxLength,
                                        contextLength: loaded.config.contextLength, source: data)
        let (train, held) = heldOut > 0 ? ds.split(heldOut: heldOut, seed: seed) : (ds.sequences, [])
        let lora = LoRAConfig(rank: rank, alpha: alpha, dropout: dropout, targets: projections)
        var rng = SeededRandom(seed: seed).split(1)
        let model = TrainableLlama(loaded.weights, maxPositions: maxLength) { site, dense in
            lora.targets.contains(site.projection)
                ? LoRALinear(base: dense, config: lora, name: site.description, random: &rng) as any TrainableLinear
                : FrozenLinear(dense)
        }
        let config = TrainingConfig(
            steps: steps, batchSize: batchSize, microBatchSize: microBatchSize,
            schedule: LearningRateSchedule(peak: lr, warmupSteps: Int((warmup * Float(steps)).rounded()), totalSteps: steps),
            maxGradientNorm: clip > 0 ? clip : nil, seed: seed)
        let trainer = try Trainer(model: model, groups: Trainer.adamWGroup(model, weightDecay: weightDecay), data: train, config: config)
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
        let progress = Progress("finetune", quiet: modelOptions.quiet)
        try trainer.run(checkpoint: url, checkpointEvery: checkpointEvery) { p in
            progress.update(p.step, of: p.totalSteps, unit: "steps", extra: String(
                format: "loss %.4f · lr %.2e · %.0f tokens/s", p.loss, p.learningRate, p.tokensPerSecond))
        }
        if !held.isEmpty { print(String(format: "held-out loss after: %.4f", try trainer.evaluate(held).meanNLL)) }
    }
}
