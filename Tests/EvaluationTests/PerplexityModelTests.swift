import Foundation
import Models
import TestSupport
import XCTest
@testable import Evaluation

/// The model side of both perplexity protocols, on stories260K, against sums of plain per-window
/// next-token log-probabilities.
final class PerplexityModelTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    func testLMEvalWikiTextThroughScorerMatchesPlainWindows() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights), tok = loaded.tokenizer
        let docs = try WikiTextDocuments(data)
        let maxLength = 128
        let scorer = ModelScorer(model: model, maxLength: maxLength, contextSlots: 1, forkSlots: 1, rowBudget: maxLength)
        var reported: [Int] = []
        let run = try docs.evaluate(tokenizer: tok, addBOS: false, scorer: scorer, maxLength: maxLength, model: "stories260K",
                                    items: .first(2)) { done, _ in reported.append(done) }

        var ll = 0.0, tokens = 0
        for page in docs.pages.prefix(2) {
            let ids = tok.encode(page.detokenized, addBOS: false)
            tokens += ids.count
            for w in WikiTextDocuments.rollingRequests(tokens: ids, prefixToken: 1, maxLength: maxLength) {
                let lp = try model.nextTokenLogProbabilities([w.context + w.continuation])[0]
                ll += lp.suffix(w.continuation.count).reduce(0.0) { $0 + Double($1) }
            }
        }
        let words = Double(docs.pages.prefix(2).reduce(0) { $0 + $1.words })
        let bytes = Double(docs.pages.prefix(2).reduce(0) { $0 + $1.bytes })
        XCTAssertEqual(run.documents, 2)
        XCTAssertEqual(run.predictedTokens, tokens)
        XCTAssertEqual(reported.last, tokens)
        XCTAssertEqual(run.metrics["word_perplexity"]!, exp(-ll / words), accuracy: 1e-4 * exp(-ll / words))
        XCTAssertEqual(run.metrics["bits_per_byte"]!, -ll / bytes / log(2), accuracy: 1e-6)
        XCTAssertEqual(run.config.items, "limit:first_n;per_subtask=2")
        XCTAssertTrue(run.protocolDescription.contains("max_length 128"))
        XCTAssertThrowsError(try docs.evaluate(tokenizer: tok, addBOS: false, scorer: scorer, maxLength: maxLength, model: "m",
                                               items: .first(63))) { error in
            XCTAssertEqual(error as? EvaluationError, .limitTooLarge(task: "wikitext", stratum: "wikitext", requested: 63, available: 62))
        }
    }

    func testGPTQTokenPerplexityMatchesPerWindowMeans() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights), tok = loaded.tokenizer
        let text = try WikiTextDocuments(data).pages[0].original
        let ppl = TokenPerplexity(label: "test", text: text, seqlen: 64, maxWindows: nil)
        let run = try ppl.evaluate(model: model, tokenizer: tok, addBOS: true, modelName: "stories260K", items: .first(5))

        let ids = tok.encode(text, addBOS: true)
        let means = try ppl.windows(tokenCount: ids.count).prefix(5).map { w -> Double in
            let lp = try model.nextTokenLogProbabilities([Array(ids[w])])[0]
            return -lp.reduce(0.0) { $0 + Double($1) } / Double(lp.count)
        }
        XCTAssertEqual(run.metrics["token_perplexity"]!, ppl.perplexity(windowMeanNLL: means), accuracy: 1e-4)
        XCTAssertEqual(run.documents, 5)
        XCTAssertEqual(run.predictedTokens, 5 * 63)
        XCTAssertThrowsError(try TokenPerplexity(label: "t", text: "short", seqlen: 64, maxWindows: nil)
            .evaluate(model: model, tokenizer: tok, addBOS: true, modelName: "m")) { error in
            guard case EvaluationError.corpusTooShort = error else { return XCTFail("\(error)") }
        }
    }
}
