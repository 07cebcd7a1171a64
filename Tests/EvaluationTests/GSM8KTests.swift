import Foundation
import Models
import Tensor
import TestSupport
import XCTest
@testable import Evaluation

/// GSM8K by generation: the HALO/LoTA-QAF answer rule on hand-written predictions, the vendored
/// test items and their seeded subsets, and greedy decoding of stories260K through the evaluator.
final class GSM8KTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)
    let template = "Question: {question}\nAnswer: "

    /// `pred.strip().split('####')[-1].strip()` as Python computes it.
    func testFinalAnswerIsTheStrippedTextAfterTheLastMarker() {
        XCTAssertEqual(FinalAnswer.extract("She sells 9 eggs.\nShe makes 9 * 2 = $18.\n#### 18"), "18")
        // No marker: the whole prediction, stripped.
        XCTAssertEqual(FinalAnswer.extract("  The answer is 18.\n"), "The answer is 18.")
        XCTAssertEqual(FinalAnswer.extract(""), "")
        // Several markers: the last one counts.
        XCTAssertEqual(FinalAnswer.extract("#### 5\nNo, wait.\n#### 7 \n"), "7")
        XCTAssertEqual(FinalAnswer.extract("#### 5 ####"), "")
        // Non-overlapping, left to right: "#####7" splits into "" and "#7".
        XCTAssertEqual(FinalAnswer.extract("#####7"), "#7")
        XCTAssertEqual(FinalAnswer.extract("########8"), "8")
        // Python's whitespace: tabs, newlines, no-break space, U+001F; not a zero-width space.
        XCTAssertEqual(FinalAnswer.extract("####\t 42\r\n\u{00A0}\u{1F}"), "42")
        XCTAssertEqual(FinalAnswer.extract("#### 42\u{200B}"), "42\u{200B}")
        XCTAssertEqual(FinalAnswer.extract("#### ünïcödé ✓ "), "ünïcödé ✓")
    }

    func testMatchingIsExactWithoutNumberNormalisation() {
        let reference = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18"
        XCTAssertTrue(FinalAnswer.matches(prediction: "9 * 2 = 18\n####  18\n", reference: reference))
        XCTAssertTrue(FinalAnswer.matches(prediction: " 18 ", reference: reference), "no marker: the whole text is compared")
        XCTAssertFalse(FinalAnswer.matches(prediction: "The answer is 18", reference: reference))
        XCTAssertFalse(FinalAnswer.matches(prediction: "#### 18\n#### 19", reference: reference))
        XCTAssertFalse(FinalAnswer.matches(prediction: "#### 18.0", reference: reference))
        XCTAssertFalse(FinalAnswer.matches(prediction: "#### $18", reference: reference))
        XCTAssertFalse(FinalAnswer.matches(prediction: "#### 1,000", reference: "#### 1000"), "evalGSV.py keeps commas")
        XCTAssertTrue(FinalAnswer.matches(prediction: "#### 1,000", reference: "#### 1,000"))
        // Code points, not canonical equivalence: precomposed é is not e + combining acute.
        XCTAssertFalse(FinalAnswer.matches(prediction: "#### caf\u{E9}", reference: "#### cafe\u{301}"))
    }

    func testRecordsAndRunAggregate() {
        let reference = "2 + 2 = 4\n#### 4"
        let records = [("#### 4", true), ("4", true), ("#### 5", false), ("I do not know", false)].enumerated().map { i, p in
            GenerationRecord(id: "gsm8k/\(i)", promptTokens: 10, generatedTokens: 3, stoppedAtEOS: i != 3, prediction: p.0,
                             referenceSolution: reference)
        }
        XCTAssertEqual(records.map(\.correct), [true, true, false, false])
        XCTAssertEqual(records.map(\.hasMarker), [true, false, true, false])
        XCTAssertEqual(records.map(\.extracted), ["4", "4", "5", "I do not know"])
        XCTAssertEqual(records.map(\.reference), ["4", "4", "4", "4"])
        let rules = GenerationProtocol(gsm8kPromptTemplate: template)
        let run = GenerationRun(evaluationProtocol: rules, model: "m", addBOS: false, items: .first(4), samples: records)
        XCTAssertEqual(run.accuracy, 0.5)
        // Sample standard deviation of [1, 1, 0, 0] (n − 1) over √4.
        XCTAssertEqual(try XCTUnwrap(run.stderr), (1.0 / 3).squareRoot() / 2, accuracy: 1e-12)
        XCTAssertEqual(run.scores, [1, 1, 0, 0])
        XCTAssertNil(GenerationRun(evaluationProtocol: rules, model: "m", addBOS: false, items: .first(1), samples: [records[0]]).stderr)
        let decoded = try? JSONDecoder().decode(GenerationRun.self, from: JSONEncoder().encode(run))
        XCTAssertEqual(decoded, run)
    }

    func testProtocolRendersTheQuestionAndIsIdentified() throws {
        let item = try GSM8K.items(from: data)[0]
        let rules = GenerationProtocol(gsm8kPromptTemplate: template)
        XCTAssertEqual(rules.prompt(question: item.question),
                       "Question: Janet\u{2019}s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
                           + "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh "
                           + "duck egg. How much in dollars does she make every day at the farmers' market?\nAnswer: ")
        XCTAssertEqual(rules.canonical,
                       "generation:v2;task=gsm8k;template=\"Question: {question}\\nAnswer: \";max_length=512;"
                           + "decoding=\(rules.decoding);stop=\(rules.stop);scoring=\(rules.scoring)")
        XCTAssertNotEqual(rules.canonical, GenerationProtocol(gsm8kPromptTemplate: template, maxLength: 256).canonical)
        // A question holding the placeholder text is inserted, not expanded again.
        XCTAssertEqual(rules.prompt(question: "Is {question} a word?"), "Question: Is {question} a word?\nAnswer: ")
    }

    func testTestItemsAndSeededSubsets() throws {
        let items = try GSM8K.items(from: data)
        XCTAssertEqual(items.count, 1_319)
        XCTAssertEqual(items[1].id, "gsm8k/1")
        XCTAssertTrue(items[0].answer.hasSuffix("\n#### 18"))
        XCTAssertEqual(FinalAnswer.extract(items[0].answer), "18")

        let subset = Subset(generationTask: GSM8K.name, version: "1", count: 20, seed: 1234)
        XCTAssertEqual(subset.canonical, "subset:v1;task=gsm8k;version=1;shots=0;per_subtask=20;seed=1234")
        let chosen = try GSM8K.select(items, .subset(subset))
        XCTAssertEqual(chosen.count, 20)
        XCTAssertEqual(chosen.map(\.id), try GSM8K.select(items, .subset(subset)).map(\.id))
        XCTAssertNotEqual(chosen.map(\.id), try GSM8K.select(items, .subset(Subset(generationTask: GSM8K.name, version: "1", count: 20, seed: 1))).map(\.id))
        let positions = chosen.map { Int($0.id.dropFirst("gsm8k/".count))! }
        XCTAssertEqual(positions, positions.sorted(), "file order is kept")
        // The very draw `Subset.select` makes for a task without subtasks of the same size.
        let piqa = try PIQA()
        let piqaDocs = try piqa.documents(from: data)
        let piqaChosen = try Subset(task: piqa, perSubtask: 20, seed: 1234).select(from: piqaDocs).map { d in piqaDocs.firstIndex { $0.id == d.id }! }
        XCTAssertEqual(try Subset(generationTask: "piqa", version: "1", count: 20, seed: 1234).positions(among: piqaDocs.count), piqaChosen)

        XCTAssertEqual(try GSM8K.select(items, .first(3)).map(\.id), ["gsm8k/0", "gsm8k/1", "gsm8k/2"])
        XCTAssertEqual(try GSM8K.select(items, .all).count, 1_319)
        XCTAssertThrowsError(try GSM8K.select(items, .subset(Subset(generationTask: GSM8K.name, version: "1", count: 1_320, seed: 1)))) {
            XCTAssertEqual($0 as? EvaluationError, .subsetTooLarge(task: "gsm8k", stratum: "gsm8k", requested: 1_320, available: 1_319))
        }
    }

    func testMissingOrUnlistedDataFileIsNamed() throws {
        let dir = try Fixtures.temporaryDirectory()
        let sum = try XCTUnwrap(data.checksums[GSM8K.testFile])
        try "\(sum)  ./\(GSM8K.testFile)\n".write(to: dir.appendingPathComponent("SHA256SUMS"), atomically: true, encoding: .utf8)
        let missing = dir.appendingPathComponent(GSM8K.testFile).path
        XCTAssertThrowsError(try GSM8K.items(from: DataDirectory(root: dir))) { error in
            XCTAssertEqual(error as? EvaluationError, .fileNotFound(file: missing))
            XCTAssertEqual("\(error)", "\(missing): file not found")
        }
        XCTAssertThrowsError(try GSM8K.items(from: DataDirectory(root: dir), file: "gsm8k/train.jsonl")) { error in
            XCTAssertTrue("\(error)".hasPrefix("gsm8k/train.jsonl: not listed in"), "\(error)")
        }
    }

    /// stories260K knows no maths; what is checked is the decoding: each token is the argmax of a
    /// full forward over everything before it, generation stops at EOS or at 512 tokens in all, and
    /// the answers are identical with one or two BLAS threads.
    func testTinyModelGreedyGenerationIsDeterministic() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights)
        let rules = GenerationProtocol(gsm8kPromptTemplate: template)
        let items = try GSM8K.select(GSM8K.items(from: data), .first(3))
        let threads = BLAS.threads
        defer { BLAS.setThreads(threads) }
        let runs = try [1, 2].map { n -> GenerationRun in
            BLAS.setThreads(n)
            let evaluator = GenerationEvaluator(model: model, tokenizer: loaded.tokenizer, evaluationProtocol: rules)
            var seen = 0
            let run = try evaluator.run(items, selection: .first(3), model: "stories260K") { records in
                seen += 1
                XCTAssertEqual(records.count, seen)
            }
            XCTAssertEqual(seen, 3)
            return run
        }
        XCTAssertEqual(runs[0], runs[1])
        let evaluator = GenerationEvaluator(model: model, tokenizer: loaded.tokenizer, evaluationProtocol: rules)
        XCTAssertEqual(runs[0].samples.map(\.id), items.map(\.id))
        XCTAssertEqual(runs[0].addBOS, loaded.tokenizer.addsBOSByDefault)
        for (item, r) in zip(items, runs[0].samples) {
            let prompt = evaluator.promptTokens(item)
            XCTAssertEqual(prompt, loaded.tokenizer.encode(rules.prompt(question: item.question), addBOS: loaded.tokenizer.addsBOSByDefault))
            XCTAssertEqual(r.promptTokens, prompt.count)
            XCTAssertGreaterThan(r.generatedTokens, 0)
            XCTAssertTrue(r.stoppedAtEOS || r.promptTokens + r.generatedTokens == 512, "\(r)")
            XCTAssertLessThanOrEqual(r.promptTokens + r.generatedTokens, 512)
            XCTAssertEqual(r.extracted, FinalAnswer.extract(r.prediction))
        }
        // The first item's first tokens, recomputed without the KV cache.
        let prompt = evaluator.promptTokens(items[0])
        let produced = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 8, stop: [])
        for k in 0..<8 {
            let logits = try model.forward(TokenBatch(prompt + produced[..<k]), logits: .lastOfEachSequence)
            XCTAssertEqual(produced[k], Metrics.argmax(logits.storage.map(Double.init)), "token \(k)")
        }
    }

    /// A resumed run keeps the records it is given and only generates the rest; records of other
    /// items are refused.
    func testRunResumesFromRecords() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let evaluator = GenerationEvaluator(model: Llama(loaded.weights), tokenizer: loaded.tokenizer,
                                            evaluationProtocol: GenerationProtocol(gsm8kPromptTemplate: template, maxLength: 300))
        let items = try GSM8K.select(GSM8K.items(from: data), .first(2))
        let whole = try evaluator.run(items, selection: .first(2), model: "m")
        var calls = 0
        let resumed = try evaluator.run(items, selection: .first(2), model: "m", resumingFrom: [whole.samples[0]]) { _ in calls += 1 }
        XCTAssertEqual(resumed, whole)
        XCTAssertEqual(calls, 1)
        XCTAssertThrowsError(try evaluator.run(Array(items.reversed()), selection: .first(2), model: "m", resumingFrom: [whole.samples[0]]))
    }
}
