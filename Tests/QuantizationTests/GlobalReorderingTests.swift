import Models
import Quantization
import Tensor
import TestSupport
import XCTest

final class GlobalReorderingTests: XCTestCase {
    /// Random residual and MLP permutations, folded in: the logits must not move (qeft.md §1.7's
    /// self-check), on a llama2.c model with an untied head and on SmolLM2 with a tied one.
    func testReorderedModelHasTheSameLogits() throws {
        for (name, url) in [("stories260K", Fixtures.stories260K), ("SmolLM2", try Fixtures.smolLM2())] {
            let weights = try ModelLoader.load(url, tokenizer: name == "stories260K" ? Fixtures.stories260KTokenizer : nil).weights
            let c = weights.config
            var rng = SeededRandom(seed: 5)
            let reordering = try GlobalReordering(
                residual: Array(0..<c.dim).shuffled(using: &rng),
                intermediate: (0..<c.layerCount).map { $0 % 2 == 0 ? Array(0..<c.hiddenDim).shuffled(using: &rng) : nil })
            let reordered = try reordering.apply(to: weights)
            XCTAssertEqual(reordered.output == nil, c.tiedEmbeddings)
            let tokens = [(0..<40).map { _ in Int(rng.next() % UInt64(c.vocabSize)) }, (0..<17).map { ($0 * 7) % c.vocabSize }]
            let a = try Llama(weights).forward(TokenBatch(sequences: tokens))
            let b = try Llama(reordered).forward(TokenBatch(sequences: tokens))
            let scale = a.storage.map(abs).max()!
            let worst = zip(a.storage, b.storage).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-5, name)
            print("\(name): reordered logits differ by at most \(worst) (max |logit| \(scale))")
            // The permutation really moved weights (an identity fold would pass trivially).
            XCTAssertNotEqual(reordered.layers[0].wq, weights.layers[0].wq)
        }
    }

    func testMovingToEndAndValidation() throws {
        XCTAssertEqual(try GlobalReordering.movingToEnd([5, 1], dimension: 7), [0, 2, 3, 4, 6, 1, 5])
        XCTAssertThrowsError(try GlobalReordering.movingToEnd([7], dimension: 7)) {
            XCTAssertTrue("\($0)".contains("'weakIndices'"), "\($0)")
        }
        XCTAssertThrowsError(try GlobalReordering(residual: [0, 0, 1], intermediate: [])) {
            XCTAssertEqual($0 as? QuantizationError,
                           .invalidOption(option: "residual", value: "[1] = 0", reason: "not a permutation of 0..<3"))
        }
        let weights = try ModelLoader.load(Fixtures.stories260K, tokenizer: Fixtures.stories260KTokenizer).weights
        XCTAssertThrowsError(try GlobalReordering(residual: Array(0..<64), intermediate: [nil]).apply(to: weights)) {
            XCTAssertEqual($0 as? QuantizationError, .shapeMismatch(what: "intermediate orders", expected: [5], found: [1]))
        }
    }
}
