import Foundation
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// Short real LoRA fine-tunes lower the loss on held-out examples of the same data.
final class FineTuneTests: XCTestCase {
    func loraModel(_ weights: LlamaWeights, _ lora: LoRAConfig, seed: UInt64) -> TrainableLlama {
        var rng = SeededRandom(seed: seed)
        return TrainableLlama(weights) { site, dense in LoRALinear(base: dense, config: lora, name: site.description, random: &rng) }
    }

    func testStoriesLoRALowersHeldOutLoss() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let examples = try InstructionData.load(Fixtures.url("Tests/Fixtures/training/stories.txt"), format: .text)
        let ds = try InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: 256,
                                        contextLength: loaded.config.contextLength, source: "stories.txt")
        let (train, heldOut) = ds.split(heldOut: 20, seed: 1)
        let model = loraModel(loaded.weights, LoRAConfig(rank: 8, alpha: 16), seed: 1)
        let trainer = try Trainer(model: model, groups: Trainer.adamWGroup(model), data: train, config: TrainingConfig(
            steps: 40, batchSize: 8, microBatchSize: 8,
            schedule: LearningRateSchedule(peak: 5e-3, warmupSteps: 4, totalSteps: 40), seed: 1))
        let before = try trainer.evaluate(heldOut).meanNLL
        try trainer.run()
        let after = try trainer.evaluate(heldOut).meanNLL
        print(String(format: "stories260K LoRA r=8: held-out loss %.4f → %.4f", before, after))
        XCTAssertLessThan(after, before - 0.2)
    }

    func testSmolLM2AlpacaLoRALowersHeldOutLoss() throws {
        let loaded = try ModelLoader.load(try Fixtures.smolLM2())
        let examples = try InstructionData.load(Fixtures.url("Experiments/Data/alpaca/alpaca_en_demo.json"), format: .alpaca)
        let ds = try InstructionDataset(Array(examples.prefix(300)), tokenizer: loaded.tokenizer, maxLength: 256,
                                        contextLength: loaded.config.contextLength, source: "alpaca_en_demo.json")
        let (train, heldOut) = ds.split(heldOut: 12, seed: 1)
        let model = loraModel(loaded.weights, LoRAConfig(rank: 16, alpha: 32), seed: 1)
        let trainer = try Trainer(model: model, groups: Trainer.adamWGroup(model), data: train, config: TrainingConfig(
            steps: 8, batchSize: 4, microBatchSize: 4,
            schedule: LearningRateSchedule(peak: 1e-3, warmupSteps: 1, totalSteps: 8), seed: 1))
        let before = try trainer.evaluate(heldOut).meanNLL
        var last: TrainingProgress?
        try trainer.run { last = $0 }
        let after = try trainer.evaluate(heldOut).meanNLL
        print(String(format: "SmolLM2-135M LoRA r=16 (7 projections), Alpaca: held-out loss %.4f → %.4f; %.1f tokens/s; activations %.0f MB",
                     before, after, last?.tokensPerSecond ?? 0, Double(model.activationBytes) / 1e6))
        XCTAssertLessThan(after, before - 0.02)
    }
}
