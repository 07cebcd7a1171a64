import Evaluation
import Models
import TestSupport
import XCTest

/// Shared-prefix scoring against the plain computation: every request's full sequence run alone.
final class ModelScorerTests: XCTestCase {
    func testPrefixReuseMatchesSeparateFullSequences() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights)
        let tok = loaded.tokenizer
        let prefix = tok.encode("Once upon a time, there was a little girl.", addBOS: true)
        var requests: [LogLikelihoodRequest] = []
        for q in ["She had a cat.", "She liked the park.", "One day she saw a bird."] {
            let context = prefix + tok.encode(" " + q)
            for a in [" Yes", " No", " The end of the story", "!"] {
                requests.append(LogLikelihoodRequest(context: context, continuation: tok.encode(a)))
            }
        }
        // A context that is a prefix of another, and a request longer than the scorer's max length.
        requests.append(LogLikelihoodRequest(context: Array(prefix.prefix(5)), continuation: Array(prefix[5..<8])))
        requests.append(LogLikelihoodRequest(context: prefix, continuation: prefix + prefix))
        requests.sort { $0.context.lexicographicallyPrecedes($1.context) }

        let reference = try requests.map { r -> (Double, Bool) in
            let whole = Array((r.context + r.continuation).suffix(25))
            let lp = try model.nextTokenLogProbabilities([whole])[0]
            let n = min(r.continuation.count, whole.count - 1)
            let logits = try model.forward(TokenBatch(Array(whole.dropLast())))
            let greedy = (0..<n).allSatisfy { i in
                let row = whole.count - 1 - n + i
                let best = (0..<logits.cols).max { logits[row, $0] < logits[row, $1] }!
                return best == whole[row + 1]
            }
            return (lp.suffix(n).reduce(0.0) { $0 + Double($1) }, greedy)
        }
        // Whole waves, and waves cut short by the slot count or by the row budget.
        for (contextSlots, rowBudget) in [(16, 512), (2, 512), (16, 12)] {
            for split in [1, 3, requests.count] {
                let scorer = ModelScorer(model: model, maxLength: 24, contextSlots: contextSlots, forkSlots: 3, rowBudget: rowBudget)
                var results: [LogLikelihoodResult] = []
                var i = 0
                while i < requests.count {
                    results += try scorer.score(Array(requests[i..<min(i + split, requests.count)]))
                    i += split
                }
                let label = "split \(split), \(contextSlots) context slots, budget \(rowBudget)"
                for (r, (ll, greedy)) in zip(results, reference) {
                    XCTAssertEqual(r.logLikelihood, ll, accuracy: 1e-4, label)
                    XCTAssertEqual(r.isGreedy, greedy, label)
                }
            }
        }
        let plain = try FullSequenceScorer(model: model, maxLength: 24, rowBudget: 40).score(requests)
        for (r, (ll, greedy)) in zip(plain, reference) {
            XCTAssertEqual(r.logLikelihood, ll, accuracy: 1e-4)
            XCTAssertEqual(r.isGreedy, greedy)
        }
    }
}
