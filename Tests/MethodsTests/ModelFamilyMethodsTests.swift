import Foundation
import Methods
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// Every registered method on the tiny Mistral (head_dim 16 ≠ 32 / 4 heads, sliding window 8),
/// Qwen2 (q/k/v biases, a window in one layer), LLaMA-2 (biases on all seven projections) and
/// Llama 3 (llama3 RoPE scaling) models of Tests/Fixtures/families: each prepares, takes two
/// optimizer steps on sequences longer than the window and exports; the merging methods' exports
/// compute their training forward's logits bit for bit.
final class ModelFamilyMethodsTests: XCTestCase {
    static let bitExact: Set<String> = ["l4q", "qa-lora", "lota-qaf"]

    func testEveryMethodFineTunesEveryFamily() throws {
        let text = try String(contentsOf: Fixtures.url("Experiments/Data/tinystories/tinystories_valid_excerpt.txt"), encoding: .utf8)
        var runs: [String] = []
        for name in ["mistral", "qwen2", "llama2", "llama3"] {
            let loaded = try ModelLoader.load(try Fixtures.familyFolder(name))
            let ids = loaded.tokenizer.encode(text)
            let sequences = (0..<4).map { i in TrainingSequence(tokens: Array(ids[(i * 24)..<(i * 24 + 24)]), responseStart: 1) }
            let calibration = (0..<4).map { i in Array(ids[(100 + i * 32)..<(132 + i * 32)]) }
            for method in MethodRegistry.names {
                let options = MethodOptions(bits: 4, groupSize: 16, rank: 2, alpha: 4)
                let m = try MethodRegistry.make(method, options: options)
                let model = try m.prepare(MethodContext(weights: loaded.weights, calibration: calibration, seed: 1))
                let trainer = try Trainer(model: model, groups: m.parameterGroups(model), data: sequences, config: TrainingConfig(
                    steps: 2, batchSize: 2, microBatchSize: 2,
                    schedule: LearningRateSchedule(peak: 1e-3, warmupSteps: 0, totalSteps: 2), maxGradientNorm: nil, seed: 1))
                try trainer.run()
                XCTAssert(try trainer.evaluate(sequences).meanNLL.isFinite, "\(name) \(method)")
                let exported = try m.export(trainer.model)
                runs.append("\(name)/\(method)")
                if Self.bitExact.contains(method) {
                    XCTAssertEqual(exported.mergeDifference, 0, "\(name) \(method)")
                    try assertBitIdenticalLogits(trainer.model.inferenceModel(loaded.weights), exported.model, sequences[0].tokens)
                }
            }
        }
        XCTAssertEqual(runs.count, 4 * MethodRegistry.names.count)
        XCTAssertTrue(Self.bitExact.isSubset(of: MethodRegistry.names), "\(MethodRegistry.names)")
        print("fine-tuned and exported: \(runs.joined(separator: " "))")
    }
}
