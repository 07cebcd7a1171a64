import Foundation
import Models
import TestSupport
import XCTest
@testable import Evaluation

/// The whole path — lm-eval prompts, encoder, scorer, metrics — on the real default model.
final class SmolLM2EvaluationTests: XCTestCase {
    static let loaded = Result { try ModelLoader.load(Fixtures.smolLM2()) }
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    /// SmolLM2-135M scores ~0.6 / ~0.4 / ~0.68 acc_norm on ARC-Easy / HellaSwag / PIQA; a broken
    /// prompt, tokenisation or scorer lands at chance.
    func testAccuracyOnFirst100ItemsIsWellAboveChance() throws {
        let loaded = try Self.loaded.get()
        let model = Llama(loaded.weights)
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: false))
        for name in ["arc_easy", "hellaswag", "piqa"] {
            let task = try TaskRegistry.task(named: name)
            let started = Date()
            let run = try evaluator.run(task, data: data, scorer: ModelScorer(model: model), model: "smollm2", items: .first(100))
            let chance = Metrics.mean(run.samples.map { 1 / Double($0.choiceLengths.count) })
            let accNorm = try XCTUnwrap(run.headline?.metrics[.accNorm]?.value)
            let acc = try XCTUnwrap(run.headline?.metrics[.acc]?.value)
            print(String(format: "%@ first 100: acc %.2f, acc_norm %.2f (chance %.2f) in %.1fs", name, acc, accNorm, chance,
                         Date().timeIntervalSince(started)))
            XCTAssertEqual(run.samples.count, 100)
            XCTAssertGreaterThan(accNorm, chance + 0.10, name)
        }
    }

    /// 20 MMLU 5-shot questions from two subjects (so a wave boundary falls between prefixes): the
    /// scorer's values against one plain forward of each full context, whose last row gives every
    /// one-token answer's log-probability.
    func testPrefixReuseMatchesPlainForwardOnMMLUFiveShot() throws {
        let loaded = try Self.loaded.get()
        let model = Llama(loaded.weights)
        let encoder = LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: false)
        let docs = try ItemSelection.first(10).select(from: MMLU(numFewShot: 5).documents(from: data), task: "mmlu")
        let sample = Array(docs.prefix(20))
        XCTAssertEqual(Set(sample.map(\.subtask)).count, 2)
        let scorer = ModelScorer(model: model)
        let items = try Evaluator(encoder: encoder).score(sample, scorer: scorer)
        var plainTokens = 0
        for (doc, item) in zip(sample, items) {
            let requests = encoder.encode(document: doc.requests)
            XCTAssertTrue(requests.allSatisfy { $0.continuation.count == 1 && $0.context == requests[0].context })
            let logits = try model.forward(TokenBatch(requests[0].context), logits: .lastOfEachSequence)
            plainTokens += requests[0].context.count
            let row = (0..<logits.cols).map { Double(logits[0, $0]) }
            let top = row.max()!
            let lse = top + log(row.reduce(0) { $0 + exp($1 - top) })
            for (r, ll) in zip(requests, item.logLikelihoods) {
                XCTAssertEqual(ll, row[r.continuation[0]] - lse, accuracy: 1e-4, doc.id)
            }
        }
        print("MMLU 5-shot, 20 questions: \(scorer.forwardedTokens) tokens forwarded with reuse, \(plainTokens) plain "
              + "(\(4 * plainTokens) scoring every request alone)")
        XCTAssertLessThan(scorer.forwardedTokens * 3, plainTokens, "the 5-shot prefixes must be computed once per subject")
    }
}
