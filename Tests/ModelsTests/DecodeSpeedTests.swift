import Models
import Tensor
import TestSupport
import XCTest

final class DecodeSpeedTests: XCTestCase {
    /// The batched decode that L4Q Table 12's throughput times continues every prompt exactly as
    /// one-sequence greedy generation does (float activations), each in its own KV-cache slot.
    func testBatchedGreedyDecodeEqualsOneSequenceAtATime() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K, tokenizer: Fixtures.stories260KTokenizer)
        let model = Llama(loaded.weights)
        let prompts = ["Once upon a time", "The cat sat", "Lily and Tom went to the park. They"].map { loaded.tokenizer.encode($0) }
        let batched = try DecodeSpeed.greedyBatch(model, prompts: prompts, steps: 12)
        for (prompt, tokens) in zip(prompts, batched) {
            XCTAssertEqual(tokens, try Generator(model: model, decodeActivations: .float32).generate(prompt: prompt, maxNewTokens: 12))
        }
        XCTAssertGreaterThan(try DecodeSpeed.throughput(model, batch: 4, prompt: prompts[0], steps: 4, repeats: 1), 0)
    }
}
