import Foundation
import TestSupport
import XCTest
@testable import Evaluation

final class EncoderEvaluatorTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    func testContinuationIsTailOfJointEncoding() {
        let tok = VocabularyTokenizer(["Answer", ":", " B", "yz"])
        let plain = LMEvalEncoder(tokenizer: tok, addBOS: false)
        XCTAssertEqual(plain.encode(TextRequest(context: "Answer:", continuation: " B")),
                       LogLikelihoodRequest(context: [10, 11], continuation: [12]))
        // "xy" → [x, y]; "xyzw" → [x, yz, w]: lm-eval keeps encode(context) as the context and takes
        // whole[2...] = [w] as the continuation, even though "yz" straddled the boundary.
        let x = 1000 + 120, y = 1000 + 121, w = 1000 + 119
        XCTAssertEqual(plain.encode(TextRequest(context: "xy", continuation: "zw")), LogLikelihoodRequest(context: [x, y], continuation: [w]))
    }

    func testTrailingContextSpaceMovesToContinuation() {
        let enc = LMEvalEncoder(tokenizer: VocabularyTokenizer(["Answer", ":", " B"]), addBOS: false)
        XCTAssertEqual(enc.encode(TextRequest(context: "Answer: ", continuation: "B")),
                       enc.encode(TextRequest(context: "Answer:", continuation: " B")))
    }

    func testBOSSwitchAndEmptyContextPrefixToken() {
        let tok = VocabularyTokenizer(["Answer", ":", " B"])
        XCTAssertEqual(LMEvalEncoder(tokenizer: tok, addBOS: true).encode(TextRequest(context: "Answer:", continuation: " B")),
                       LogLikelihoodRequest(context: [1, 10, 11], continuation: [12]))
        XCTAssertEqual(LMEvalEncoder(tokenizer: tok, addBOS: false).encode(TextRequest(context: "", continuation: " B")),
                       LogLikelihoodRequest(context: [1], continuation: [12]))
        let noBOS = VocabularyTokenizer(["Answer", ":", " B"], bos: nil, eos: 2)
        XCTAssertEqual(LMEvalEncoder(tokenizer: noBOS, addBOS: false).encode(TextRequest(context: "", continuation: " B")),
                       LogLikelihoodRequest(context: [2], continuation: [12]))
    }

    func testEvaluatorSortsBySharedContextAndAggregatesLikeLMEval() throws {
        let task = MMLU(numFewShot: 5)
        let subset = Subset(task: task, perSubtask: 3, seed: 11)
        let scorer = RecordingScorer()
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: VocabularyTokenizer([" A", " B", " C", " D"]), addBOS: true), batchSize: 100)
        let run = try evaluator.run(task, data: data, scorer: scorer, model: "recording", items: .subset(subset))

        XCTAssertEqual(run.samples.count, 57 * 3)
        XCTAssertEqual(scorer.received.count, 57 * 3 * 4)
        XCTAssertEqual(scorer.calls, Int((Double(57 * 3 * 4) / 100).rounded(.up)))
        // Sorted by context: each distinct context forms one contiguous run, in non-decreasing order.
        for (a, b) in zip(scorer.received, scorer.received.dropFirst()) {
            XCTAssertFalse(b.context.lexicographicallyPrecedes(a.context))
        }
        var runs = 1
        for (a, b) in zip(scorer.received, scorer.received.dropFirst()) where a.context != b.context { runs += 1 }
        XCTAssertEqual(runs, Set(scorer.received.map(\.context)).count)

        // Each item's log-likelihoods are the scorer's values for its own requests, in choice order.
        let docs = try subset.select(from: task.documents(from: data))
        for (item, doc) in zip(run.samples, docs) {
            XCTAssertEqual(item.id, doc.id)
            let expected = try RecordingScorer().score(evaluator.encoder.encode(document: doc.requests)).map(\.logLikelihood)
            XCTAssertEqual(item.logLikelihoods, expected)
        }
        // Micro average: the headline is the mean over all items, categories over their items.
        let acc = run.samples.map { $0.value(.acc) }
        XCTAssertEqual(run.results["mmlu"]!.metrics[.acc]!.value, Metrics.mean(acc), accuracy: 1e-12)
        XCTAssertEqual(run.results["mmlu"]!.sampleCount, 171)
        XCTAssertEqual(run.results["mmlu_stem"]!.sampleCount, 19 * 3)
        let sizes = [Int](repeating: 3, count: 57)
        let subjectStderrs = try MMLU(numFewShot: 5).groups(from: data)[4].subtasks.map { run.results[$0]!.metrics[.acc]!.stderr }
        XCTAssertEqual(run.results["mmlu"]!.metrics[.acc]!.stderr, Metrics.pooledStderr(subjectStderrs, sizes: sizes), accuracy: 1e-15)
        XCTAssertEqual(run.config.items, subset.canonical)
        XCTAssertTrue(run.config.addBOS)
    }

    func testRunEncodesToLMEvalLayoutAndRoundTrips() throws {
        let task = try TaskRegistry.task(named: "arc_challenge")
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: VocabularyTokenizer([]), addBOS: false))
        let run = try evaluator.run(task, data: data, scorer: RecordingScorer(), model: "m", items: .subset(Subset(task: task, perSubtask: 20, seed: 3)))
        let json = try JSONEncoder().encode(run)
        let object = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        let entry = (object["results"] as! [String: Any])["arc_challenge"] as! [String: Any]
        XCTAssertNotNil(entry["acc,none"] as? Double)
        XCTAssertNotNil(entry["acc_norm_stderr,none"] as? Double)
        XCTAssertEqual(entry["sample_len"] as? Int, 20)
        XCTAssertEqual((object["n-shot"] as! [String: Int])["arc_challenge"], 0)
        XCTAssertEqual((object["versions"] as! [String: String])["arc_challenge"], "1.0")
        XCTAssertEqual((object["samples"] as! [Any]).count, 20)
        XCTAssertEqual(try JSONDecoder().decode(TaskRun.self, from: json), run)
    }

    func testScorerReturningWrongCountIsAnError() {
        struct Short: LogLikelihoodScorer {
            func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] { [] }
        }
        let doc = TaskDocument.sharedContext(id: "t/0", subtask: "t", context: "Q", choices: ["a", "b"], gold: 0)
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: VocabularyTokenizer([]), addBOS: false))
        XCTAssertThrowsError(try evaluator.score([doc], scorer: Short())) { error in
            XCTAssertEqual(error as? EvaluationError, .scorerResultCount(expected: 2, found: 0))
        }
    }

    func testPairedRunsAndCommonsenseAverage() throws {
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: VocabularyTokenizer([]), addBOS: false))
        var runs: [TaskRun] = []
        for name in CommonsenseAverage.tasks {
            let task = try TaskRegistry.task(named: name)
            runs.append(try evaluator.run(task, data: data, scorer: RecordingScorer(), model: "m", items: .subset(Subset(task: task, perSubtask: 30, seed: 5))))
        }
        let quoted: [String: Metric] = ["boolq": .acc, "piqa": .acc, "hellaswag": .accNorm, "winogrande": .acc,
                                        "arc_easy": .acc, "arc_challenge": .accNorm, "openbookqa": .accNorm]
        let byHand = runs.map { run in Metrics.mean(run.samples.map { $0.value(quoted[run.task]!) }) }.reduce(0, +) / 7
        XCTAssertEqual(try CommonsenseAverage.value(runs), byHand, accuracy: 1e-12)
        XCTAssertThrowsError(try CommonsenseAverage.value(Array(runs.dropLast()))) { error in
            XCTAssertEqual(error as? EvaluationError, .missingTaskResult(task: "openbookqa"))
        }

        // A run paired with itself: no discordant items, p = 1, delta 0.
        let same = try RunComparison(baseline: runs[0], candidate: runs[0], metric: .acc, resamples: 200)
        XCTAssertEqual(same.mcnemarP, 1)
        XCTAssertEqual(same.bootstrap.observedDelta, 0)
        XCTAssertThrowsError(try RunComparison(baseline: runs[0], candidate: runs[1], metric: .acc))
    }
}
