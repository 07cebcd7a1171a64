import Foundation
import Methods
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// A short real fine-tune of one registered method, shared by the method tests: a model, its
/// training and held-out sequences, and the loop that prepares, trains and measures held-out loss.
struct MethodRun {
    let loaded: LoadedModel
    let train: [TrainingSequence]
    let heldOut: [TrainingSequence]

    /// stories260K on the committed story text, 20 stories held out.
    static func stories() throws -> MethodRun {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let examples = try InstructionData.load(Fixtures.url("Tests/Fixtures/training/stories.txt"), format: .text)
        let ds = try InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: 256,
                                        contextLength: loaded.config.contextLength, source: "stories.txt")
        let (train, heldOut) = ds.split(heldOut: 20, seed: 1)
        return MethodRun(loaded: loaded, train: train, heldOut: heldOut)
    }

    /// SmolLM2-135M-Instruct on the first `count` Alpaca examples (≤ 256 tokens), 12 held out.
    static func smolLM2Alpaca(count: Int) throws -> MethodRun {
        let loaded = try ModelLoader.load(try Fixtures.smolLM2())
        let examples = try InstructionData.load(Fixtures.url("Experiments/Data/alpaca/alpaca_en_demo.json"), format: .alpaca)
        let ds = try InstructionDataset(Array(examples.prefix(count)), tokenizer: loaded.tokenizer, maxLength: 256,
                                        contextLength: loaded.config.contextLength, source: "alpaca_en_demo.json")
        let (train, heldOut) = ds.split(heldOut: 12, seed: 1)
        return MethodRun(loaded: loaded, train: train, heldOut: heldOut)
    }

    /// The method's prepared model and a trainer over it with the method's own optimizers.
    /// `clip` nil = no gradient clipping (LoTA-QAF).
    func trainer(_ method: any FineTuningMethod, steps: Int, batch: Int, learningRate: Float = 0,
                 clip: Float? = 1, calibration: [[Int]] = []) throws -> Trainer {
        let model = try method.prepare(MethodContext(weights: loaded.weights, calibration: calibration, seed: 1))
        return try Trainer(model: model, groups: method.parameterGroups(model), data: train, config: TrainingConfig(
            steps: steps, batchSize: batch, microBatchSize: batch,
            schedule: LearningRateSchedule(peak: learningRate, warmupSteps: 0, totalSteps: steps),
            maxGradientNorm: clip, seed: 1))
    }

    /// Held-out loss (mean NLL per scored token) before and after `trainer.run()`.
    func heldOutLoss(_ trainer: Trainer) throws -> (before: Double, after: Double) {
        let before = try trainer.evaluate(heldOut).meanNLL
        try trainer.run()
        return (before, try trainer.evaluate(heldOut).meanNLL)
    }
}

/// Asserts two models give exactly the same logits (every bit) on `tokens`.
func assertBitIdenticalLogits(_ a: Llama, _ b: Llama, _ tokens: [Int], file: StaticString = #filePath, line: UInt = #line) throws {
    let la = try a.forward(TokenBatch(tokens)), lb = try b.forward(TokenBatch(tokens))
    var differing = 0
    for i in 0..<la.count where la.storage[i].bitPattern != lb.storage[i].bitPattern { differing += 1 }
    XCTAssertEqual(differing, 0, "logits differing in their bits", file: file, line: line)
}

/// Asserts `body` throws `MethodError.invalidOption` naming `option`.
func assertInvalidOption(_ option: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    XCTAssertThrowsError(try body(), file: file, line: line) { e in
        guard case MethodError.invalidOption(let o, _, _) = e else { return XCTFail("\(e)", file: file, line: line) }
        XCTAssertEqual(o, option, "\(e)", file: file, line: line)
    }
}
