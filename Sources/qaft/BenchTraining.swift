import Foundation
import Models
import Tensor
import Training

extension Bench {
    /// One LoRA training step (r = 16 on all seven projections) at 4×256 tokens: tokens/s, FLOP
    /// efficiency against the sgemm rate of this run, and peak resident memory beside the
    /// forward-only peak. (No peer is printed beside it until one is measured in the same run:
    /// a number from an earlier run is not a comparison.)
    func trainingSection(_ weights: LlamaWeights, gemmRate: Double) throws {
        let c = weights.config
        print("\n## LoRA training step (r 16, q k v o gate up down, 4×256 tokens)")
        var rng = SeededRandom(seed: 2)
        let sequences = (0..<4).map { _ in
            TrainingSequence(tokens: (0..<256).map { _ in Int(rng.next() % UInt64(c.vocabSize)) }, responseStart: 1)
        }
        let forwardPeak: Int = try {
            let model = Llama(weights)
            _ = try model.forward(TokenBatch(sequences: sequences.map(\.tokens)), logits: .all)
            return ResidentMemory.peakBytes()
        }()
        let lora = LoRAConfig(rank: 16, alpha: 32)
        var init_ = SeededRandom(seed: 3)
        let model = TrainableLlama(weights) { site, dense in LoRALinear(base: dense, config: lora, name: site.description, random: &init_) }
        let trainer = try Trainer(
            model: model, groups: Trainer.adamWGroup(model, weightDecay: 0), data: sequences,
            config: TrainingConfig(steps: repeats + 1, batchSize: 4, microBatchSize: 4,
                                   schedule: LearningRateSchedule(peak: 1e-4, warmupSteps: 0, totalSteps: repeats + 1)))
        let t = try median { _ = try trainer.trainStep() }
        let trainPeak = ResidentMemory.peakBytes()
        let tps = 1024 / t
        // Forward, plus the activation backward (dx = dy·W for every weight, twice attention's products).
        let flops = 2 * c.flopsPerToken + 3 * attentionFlops(c, length: 256)
        print(String(format: "  step %.2fs  %7.1f tokens/s   %5.1f%% of sgemm rate (%.2f GFLOP/token)",
                     t, tps, 100 * flops * tps / 1e9 / gemmRate, flops / 1e9))
        print(String(format: "  peak resident memory: training %.2f GB, forward only %.2f GB",
                     Double(trainPeak) / 1e9, Double(forwardPeak) / 1e9))
    }
}
