import Evaluation
import Models
import Tensor
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

    /// Data-parallel scoring: the evaluator's batches spread over two workers (two threads, each
    /// scorer on its own replica of the model) give the same bits as one worker, and a scorer's
    /// call does not depend on what it scored before.
    func testWorkersGiveTheSameBitsAsOneScorer() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights)
        let story = "Once upon a time, there was a little girl. She had a red ball and a big dog."
        let documents = (0..<24).map { i in
            TaskDocument.sharedContext(id: "story-\(i)", subtask: i < 12 ? "ball" : "dog",
                                       context: story + (i < 12 ? " The ball was" : " The dog was") + String(repeating: " very", count: i % 5),
                                       choices: ["red", "happy", "big and soft", "sad."], gold: i % 4)
        }
        // Batches of 8 requests: 12 batches, some straddling the two contexts' shared prefixes.
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: true), batchSize: 8)
        let one = ModelScorer(model: model, maxLength: 64)
        let first = try evaluator.score(documents, scorer: one)
        let again = try evaluator.score(documents, scorer: one)
        XCTAssertEqual(first.map(\.logLikelihoods), again.map(\.logLikelihoods))

        let workers = ModelScorer.workers(2, model: model, maxLength: 64)
        XCTAssertEqual(workers.count, 2)
        XCTAssertFalse(workers[0].model === workers[1].model, "each worker needs its own workspace")
        let blasThreads = BLAS.threads
        let parallel = try evaluator.score(documents, scorers: workers)
        XCTAssertEqual(BLAS.threads, blasThreads, "the evaluator restores OpenBLAS's thread count")
        XCTAssertEqual(parallel.map(\.logLikelihoods), first.map(\.logLikelihoods))
        XCTAssertEqual(parallel.map(\.prediction), first.map(\.prediction))
        XCTAssertGreaterThan(workers[0].forwardedTokens, 0)
        XCTAssertGreaterThan(workers[1].forwardedTokens, 0)
    }

    /// A layer with scratch state of its own cannot be shared between threads: no replica, one worker.
    func testModelWithStatefulLayerGetsOneWorker() throws {
        final class Stateful: LinearOperator {
            let base: DenseLinear
            var calls = 0
            init(_ base: DenseLinear) { self.base = base }
            var inFeatures: Int { base.inFeatures }
            var outFeatures: Int { base.outFeatures }
            func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
                calls += 1
                base.apply(x, rows: rows, into: y)
            }
        }
        let model = Llama(try ModelLoader.load(Fixtures.stories260K).weights)
        XCTAssertNotNil(model.replica())
        model.blocks[1].up = Stateful(model.blocks[1].up as! DenseLinear)
        XCTAssertNil(model.replica())
        XCTAssertEqual(ModelScorer.workers(2, model: model).count, 1)
    }
}
