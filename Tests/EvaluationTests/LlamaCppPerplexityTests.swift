import Foundation
import Models
import TestSupport
import XCTest
@testable import Evaluation

/// llama-perplexity's protocol on stories260K against a per-token reference: each scored token's
/// log-probability from its own forward pass over exactly the chunk prefix llama.cpp conditions on.
final class LlamaCppPerplexityTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    /// −Σ log p(chunk[j] | chunk[..<j]) over j in first+1 ..< context, every chunk, one forward per token.
    func reference(_ model: Llama, tokens: [Int], context: Int, bos: Int?) throws -> (nll: Double, count: Int) {
        var nll = 0.0, count = 0
        for c in 0..<(tokens.count / context) {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let bos { chunk[0] = bos }
            for j in (context / 2 + 1)..<context {
                nll -= Double(try model.nextTokenLogProbabilities([Array(chunk[...j])])[0].last!)
                count += 1
            }
        }
        return (nll, count)
    }

    func testMatchesPerTokenReferenceWithAndWithoutBOS() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights), tok = loaded.tokenizer
        let text = try WikiTextDocuments(data).pages[0].original
        let context = 20, tokens = Array(tok.encode(text, addBOS: true).prefix(3 * context + 7))
        let p = LlamaCppPerplexity(context: context)
        XCTAssertEqual(p.first, 10)
        XCTAssertEqual(p.scoredPerChunk, 9)
        XCTAssertEqual(p.chunks(tokenCount: tokens.count), 3)
        for bos in [nil, tok.bosToken!] {
            var reported: [Int] = []
            let r = try p.evaluate(model: model, tokens: tokens, bos: bos) { done, total in
                XCTAssertEqual(total, 3)
                reported.append(done)
            }
            let ref = try reference(model, tokens: tokens, context: context, bos: bos)
            XCTAssertEqual(r.windows, 3)
            XCTAssertEqual(reported, [1, 2, 3])
            XCTAssertEqual(r.predicted, ref.count)
            XCTAssertEqual(r.predicted, 27, "the 7 tail tokens are dropped")
            XCTAssertEqual(r.totalNLL, ref.nll, accuracy: 1e-4 * ref.nll)
        }
        // BOS in each chunk's first slot changes what the scored tokens are conditioned on.
        let replaced = try p.evaluate(model: model, tokens: tokens, bos: tok.bosToken!).totalNLL
        let kept = try p.evaluate(model: model, tokens: tokens, bos: nil).totalNLL
        XCTAssertNotEqual(replaced, kept)
        XCTAssertTrue(p.describe(chunks: 3, bos: 1).contains("3 chunks of 20 tokens, the last 9 tokens of each scored"))
    }

    func testRefusesFewerThanTwoChunksAsLlamaPerplexityDoes() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights)
        XCTAssertThrowsError(try LlamaCppPerplexity(context: 16).evaluate(model: model, tokens: Array(repeating: 5, count: 31), bos: nil)) { error in
            XCTAssertEqual(error as? EvaluationError, .corpusTooShort(task: "llama.cpp perplexity (two chunks of 16)", tokens: 31, seqlen: 32))
        }
    }
}
