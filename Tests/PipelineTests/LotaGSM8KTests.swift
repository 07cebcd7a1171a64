import Evaluation
@testable import Experiments
import Foundation
import Models
@testable import Pipeline
import TestSupport
import Training
import XCTest

/// The GSM8K generation stage and the `lota-gsm8k` target: prompts as fine-tuning renders them,
/// planning under every profile (with the subset, length and protocol in the key), a missing data
/// file named before anything runs, and the tiny profile end to end.
final class LotaGSM8KTests: XCTestCase {
    func plan(_ m: Manifest) throws -> Plan { try Planner(root: Fixtures.root).plan([m]) }

    /// Train and eval agree: the evaluated prompt is `InstructionData.gsm8kPrompt`'s string, and its
    /// tokens are the prompt tokens `InstructionDataset` trains on (BOS included when the tokenizer adds it).
    func testEvaluationPromptIsTheFineTuningPrompt() throws {
        let rules = GSM8KStage.evaluationProtocol()
        XCTAssertEqual(rules.promptTemplate, "Question: {question}\nAnswer: ")
        XCTAssertEqual(rules.maxLength, 512)
        let data = try DataDirectory.vendored(repositoryRoot: Fixtures.root)
        let item = try GSM8K.items(from: data)[0]
        XCTAssertEqual(rules.prompt(question: item.question), InstructionData.gsm8kPrompt(question: item.question))
        XCTAssertTrue(rules.prompt(question: item.question).hasPrefix("Question: Janet\u{2019}s ducks lay 16 eggs per day."))

        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let training = try InstructionDataset(InstructionData.load(Fixtures.url(LotaGSM8K.testFile), format: .gsm8k),
                                              tokenizer: loaded.tokenizer, maxLength: nil, contextLength: 4096, source: "test")
        let evaluator = GenerationEvaluator(model: Llama(loaded.weights), tokenizer: loaded.tokenizer, evaluationProtocol: rules)
        let sequence = training.sequences[0]
        XCTAssertEqual(evaluator.promptTokens(item), Array(sequence.tokens[..<sequence.responseStart]))
    }

    /// `qaft eval --tasks gsm8k` runs the stage's protocol outside the pipeline: lm-eval-style
    /// results with the exact-match accuracy and protocol, every generation in the generations file,
    /// predictions free of special tokens.
    func testEvalCommandScoresGSM8K() throws {
        let dir = try Fixtures.temporaryDirectory()
        let results = dir.appendingPathComponent("results.json"), generations = dir.appendingPathComponent("gsm8k.json")
        let log = dir.appendingPathComponent("eval.log")
        XCTAssertEqual(try QaftProcess.run(["eval", "-m", Fixtures.stories260K.path, "--tasks", "gsm8k", "--limit", "2",
                                            "--generation-length", "200", "--output", results.path, "--generations", generations.path,
                                            "--quiet"], log: log), 0, QaftProcess.text(log))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: results)) as? [String: Any])
        let entry = try XCTUnwrap((json["results"] as? [String: Any])?["gsm8k"] as? [String: Any])
        let runs = try JSONDecoder().decode([GenerationRun].self, from: Data(contentsOf: generations))
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual(runs[0].samples.map(\.id), ["gsm8k/0", "gsm8k/1"])
        XCTAssertEqual(entry["exact_match,none"] as? Double, runs[0].accuracy)
        XCTAssertEqual(entry["protocol"] as? String, GSM8KStage.evaluationProtocol(maxLength: 200).canonical)
        for r in runs[0].samples {
            XCTAssertLessThanOrEqual(r.promptTokens + r.generatedTokens, 200)
            XCTAssertFalse(r.prediction.contains("<s>") || r.prediction.contains("</s>"), r.prediction)
        }
        XCTAssertTrue(QaftProcess.text(log).contains("exact_match"), QaftProcess.text(log))
    }

    func testPlansInEveryProfileWithTheSettingsInTheKey() throws {
        for profile in Profile.allCases {
            let m = LotaGSM8K.manifest(profile)
            let p = try plan(m)
            let evaluations = p.stages.filter { $0.kind == GSM8KStage.kindName }
            // Both columns read one stage per row.
            XCTAssertEqual(evaluations.count, m.rows.count, "\(profile)")
            let (steps, items) = LotaGSM8K.budget(profile)
            for e in evaluations {
                let settings = try e.settings.decode(GSM8KStage.Settings.self)
                XCTAssertEqual(settings.items, items)
                XCTAssertEqual(settings.maxLength, 512)
                XCTAssertEqual(e.components.entries["version"], "1+" + GenerationProtocol.currentVersion)
                XCTAssertEqual(Set(e.files.keys), ["checksums", "data"])
            }
            let finetunes = p.stages.filter { $0.kind.hasPrefix("finetune.") }
            XCTAssertEqual(finetunes.count, profile == .tiny ? 3 : 9, "\(profile)")
            for f in finetunes {
                let settings = try f.settings.decode(MethodSettings.self)
                XCTAssertEqual(settings.format, .gsm8k)
                XCTAssertEqual(settings.steps, steps)
                XCTAssertEqual(f.files["data"]?.lastPathComponent, "train.jsonl")
                if f.kind == "finetune.lota-qaf" { XCTAssertEqual(settings.extra?["steps"], Double(steps)) }
            }
            XCTAssertEqual(m.claims.count, profile == .tiny ? 1 : 6, "\(profile): the tiny rows have one pair the paper orders")
        }
        // Another subset size or length is another stage; the quantizations are LotaTable1's.
        var m = LotaGSM8K.manifest(.default)
        let keys = Set(try plan(m).stages.filter { $0.kind == GSM8KStage.kindName }.map(\.key))
        for (name, value) in [("items", Value.int(21)), ("maxLength", Value.int(256))] {
            var changed = m
            for j in changed.evaluations.indices { changed.evaluations[j].parameters[name] = value }
            XCTAssertTrue(keys.isDisjoint(with: try plan(changed).stages.filter { $0.kind == GSM8KStage.kindName }.map(\.key)), name)
        }
        let quantize = { (p: Plan) in Set(p.stages.filter { $0.kind == "quantize.gptq" }.map(\.key)) }
        XCTAssertEqual(quantize(try plan(m)), quantize(try plan(LotaTable1.manifest(.default))))
        m.evaluations[0].parameters["item"] = 3
        XCTAssertThrowsError(try plan(m)) { XCTAssertTrue("\($0)".contains("evaluations[0].parameters.item = 3: unknown parameter"), "\($0)") }
    }

    func testMissingTestFileIsNamedBeforeAnythingRuns() throws {
        var m = LotaGSM8K.manifest(.tiny)
        m.evaluations[0].files["data"] = "Experiments/Data/gsm8k/test-missing.jsonl"
        XCTAssertThrowsError(try plan(m)) { error in
            guard case let .manifest(manifest, _, field, value, reason)? = error as? PipelineError else { return XCTFail("\(error)") }
            XCTAssertEqual(manifest, "lota-gsm8k")
            XCTAssertEqual(field, "evaluations[0].files.data")
            XCTAssertEqual(value, "\"Experiments/Data/gsm8k/test-missing.jsonl\"")
            XCTAssertTrue(reason.hasSuffix("Experiments/Data/gsm8k/test-missing.jsonl"), reason)
        }
        m = LotaGSM8K.manifest(.tiny)
        m.evaluations[0].files["data"] = nil
        XCTAssertThrowsError(try plan(m)) { XCTAssertTrue("\($0)".contains("needs data file \"data\""), "\($0)") }
        XCTAssertThrowsError(try GSM8KStage.path(of: Fixtures.url("Experiments/Data/gsm8k/test.jsonl"), inside: Fixtures.url("Tests"), stage: "s")) {
            XCTAssertTrue("\($0)".contains("outside"), "\($0)")
        }
        XCTAssertEqual(try GSM8KStage.path(of: Fixtures.url("Experiments/Data/gsm8k/test.jsonl"), inside: Fixtures.url("Experiments/Data"), stage: "s"),
                       "gsm8k/test.jsonl")
    }

    /// stories260K fine-tuned on GSM8K and scored on two items: every row answers the same items
    /// (so rows pair), the records are kept as the stage's artifact, and a rerun computes nothing.
    func testTinyProfileRunsEndToEnd() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let p = try plan(LotaGSM8K.manifest(.tiny))
        let run = try Runner(cache: cache).run(p)
        XCTAssertEqual(Set(run.computed), Set(p.stages.map(\.key)))
        var ids: [[String]] = []
        for st in p.stages where st.kind == GSM8KStage.kindName {
            let record = try XCTUnwrap(try cache.result(st.key))
            let m = record.output.metrics
            XCTAssertEqual(m["items"], 2)
            XCTAssertEqual(record.output.series["accuracy"]?.count, 2)
            XCTAssertTrue((0...1).contains(try XCTUnwrap(m["accuracy"])))
            XCTAssertNotNil(m["accuracy_stderr"])
            XCTAssertEqual(record.output.notes["selection"], "subset:v1;task=gsm8k;version=1;shots=0;per_subtask=2;seed=1234")
            let artifact = try XCTUnwrap(record.artifactURL).appendingPathComponent(GSM8KStage.artifactName)
            let saved = try JSONDecoder().decode(GenerationRun.self, from: Data(contentsOf: artifact))
            XCTAssertEqual(saved.scores, record.output.series["accuracy"])
            XCTAssertEqual(saved.evaluationProtocol, GSM8KStage.evaluationProtocol())
            ids.append(saved.samples.map(\.id))
        }
        XCTAssertEqual(ids.count, 4)
        XCTAssertEqual(Set(ids.map { $0.joined(separator: ",") }).count, 1, "every row answers the same items")
        let report = try XCTUnwrap(try cache.result(XCTUnwrap(p.reports["lota-gsm8k"]))?.artifactURL)
        let csv = try String(contentsOf: report.appendingPathComponent("Results/lota-gsm8k-tiny.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 4 * 2)
        XCTAssertEqual(try Runner(cache: cache).run(p).computed, [])
    }
}
