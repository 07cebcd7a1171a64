import Experiments
import Foundation
@testable import Pipeline
import Tensor
import TestSupport
import XCTest

/// Malformed manifests fail while planning (before any computation) with one message naming
/// the manifest, the field and the value.
final class ManifestValidationTests: XCTestCase {
    func planError(_ m: Manifest) -> PipelineError? {
        do {
            _ = try Planner(root: Fixtures.root).plan([m])
            XCTFail("planning \(m.id) should fail")
            return nil
        } catch let e as PipelineError {
            return e
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func assertFails(_ m: Manifest, field: String, value: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case let .manifest(manifest, source, f, v, _)? = planError(m) else { return XCTFail("no manifest error", file: file, line: line) }
        XCTAssertEqual(manifest, "tinytable", file: file, line: line)
        XCTAssertEqual(source, "Experiments/TinyTable.swift", file: file, line: line)
        XCTAssertEqual(f, field, file: file, line: line)
        XCTAssertEqual(v, value, file: file, line: line)
        let text = planError(m)!.description
        for part in ["tinytable", field, value] { XCTAssert(text.contains(part), "\(text) lacks \(part)", file: file, line: line) }
    }

    func testUnknownMethod() {
        var m = TinyTable.manifest(.tiny)
        m.rows[0].fineTuning = FineTuningSpec("l4qq", data: "Experiments/Data/alpaca/alpaca_en_demo.json", parameters: [:])
        assertFails(m, field: "rows[0].fineTuning.method", value: "\"l4qq\"")
    }

    func testBadBits() {
        var m = TinyTable.manifest(.tiny)
        m.rows[0].quantization = QuantizationSpec("rtn", bits: 0, groupSize: 4)
        assertFails(m, field: "rows[0].quantization.bits", value: "0")
    }

    func testMissingDataFile() {
        var m = TinyTable.manifest(.tiny)
        m.evaluations[0].files["text"] = "Experiments/Data/tinystories/missing.txt"
        assertFails(m, field: "evaluations[0].files.text", value: "\"Experiments/Data/tinystories/missing.txt\"")
    }

    func testBadAndUnknownParameters() {
        var m = TinyTable.manifest(.tiny)
        m.evaluations[1].parameters["window"] = 1
        assertFails(m, field: "evaluations[1].parameters.window", value: "1")
        m = TinyTable.manifest(.tiny)
        m.evaluations[0].parameters["windw"] = 64
        assertFails(m, field: "evaluations[0].parameters.windw", value: "64")
    }

    /// A target run on another model (`--model`) whose widths the profile's group size does not
    /// divide is refused before any stage runs, naming the row, the group size and the width:
    /// SmolLM2's widths (576, 1536) admit the tiny profile's group 4, not 28.
    func testGroupSizeNotDividingTheUsersModelIsRefused() throws {
        let smol = try Fixtures.smolLM2()
        let m = try XCTUnwrap(Catalog.manifests("tinymethods", profile: .tiny, model: .file(smol.path, tokenizer: nil)).first)
        XCTAssertEqual(m.model, .file(smol.path, tokenizer: nil))
        XCTAssertNoThrow(try Planner(root: Fixtures.root).plan(Catalog.manifests("tinymethods", profile: .tiny)))
        var moved = m
        for i in moved.rows.indices where moved.rows[i].fineTuning?.parameters["groupSize"] != nil {
            moved.rows[i].fineTuning!.parameters["groupSize"] = 28
        }
        let row = try XCTUnwrap(moved.rows.firstIndex { $0.fineTuning?.parameters["groupSize"] != nil })
        guard case let .manifest(id, _, field, value, reason)? = planError(moved) else { return XCTFail("no manifest error") }
        XCTAssertEqual([id, field, value], ["tinymethods", "rows[\(row)].fineTuning.parameters.groupSize", "28"])
        XCTAssert(reason.contains("input width 576") && reason.contains(smol.path), reason)
    }

    func testClaimNamingNoRow() {
        var m = TinyTable.manifest(.tiny)
        m.claims[0].worse.row = "nope"
        assertFails(m, field: "claims[0].worse.row", value: "\"nope\"")
    }

    /// Every target of the catalog plans under the real profiles: each field, method option
    /// (`extra.init`, `minMaxGrid`, ranks, groups) and data file is accepted before anything runs.
    func testEveryCatalogTargetPlans() throws {
        for profile in [Profile.quick, .default, .full] {
            for name in Catalog.names {
                XCTAssertNoThrow(try Planner(root: Fixtures.root).plan(Catalog.manifests(name, profile: profile)), "\(name) \(profile)")
            }
        }
        // Rows shared with Table 2 reuse its stages: the whole catalog adds only the new rows' ones.
        let table2 = try Planner(root: Fixtures.root).plan(Catalog.manifests("table2", profile: .default))
        let sweep = try Planner(root: Fixtures.root).plan(Catalog.manifests("table2", profile: .default)
                                                          + Catalog.manifests("l4q-table5", profile: .default))
        let finetunes = { (p: Plan) in p.stages.filter { $0.kind == "finetune.l4q" }.count }
        // Eight ranks, of which r = 4 is Table 2's L4Q row.
        XCTAssertEqual(finetunes(sweep), finetunes(table2) + 7)
        // L4Q Tables 13/14 and LoTA-QAF Table 2 are views of stages other tables compute: nothing of their own but the report.
        let tables = try Planner(root: Fixtures.root).plan(Catalog.manifests("table2", profile: .default) + Catalog.manifests("table3", profile: .default)
                                                           + Catalog.manifests("lota-table1", profile: .default))
        for view in ["l4q-table13", "l4q-table14", "lota-table2"] {
            let p = try Planner(root: Fixtures.root).plan(Catalog.manifests(view, profile: .default))
            let own = Set(p.stages.filter { $0.kind != ReportStage.kindName }.map(\.key)).subtracting(tables.stages.map(\.key))
            XCTAssertEqual(own, [], view)
        }
        // The speed targets time Table 2's models: no quantization, fine-tune or score of their own
        // but the OWQ contrast row's, only decode timings (and llama.cpp's).
        for speed in ["qeft-figure1", "l4q-figure1", "l4q-table12"] {
            let p = try Planner(root: Fixtures.root).plan(Catalog.manifests(speed, profile: .default))
            let own = p.stages.filter { !table2.stages.map(\.key).contains($0.key) && !$0.label.contains("OWQ") }
            let timings: Set = speed == "l4q-table12" ? [DecodeSpeedStage.kindName] : [DecodeSpeedStage.kindName, LlamaCppSpeedStage.kindName]
            XCTAssertEqual(Set(own.map(\.kind)), timings.union([ReportStage.kindName]), speed)
        }
    }

    /// The quick profile is the default profile's table at smoke-run size: the same rows and
    /// columns, the same quantized bases (shared stages), far fewer fine-tuning steps.
    func testQuickProfileIsTheDefaultTableSmaller() throws {
        let quick = try XCTUnwrap(Catalog.manifests("table2", profile: .quick).first)
        let normal = try XCTUnwrap(Catalog.manifests("table2", profile: .default).first)
        XCTAssertEqual(quick.rows.map(\.label), normal.rows.map(\.label))
        XCTAssertEqual(quick.evaluations.map(\.label), normal.evaluations.map(\.label))
        XCTAssertEqual(quick.outputName, "table2-quick")
        for (q, n) in zip(quick.rows, normal.rows) {
            guard case .int(let qs)? = q.fineTuning?.parameters["steps"], case .int(let ns)? = n.fineTuning?.parameters["steps"] else {
                XCTAssertNil(q.fineTuning, q.label)
                continue
            }
            XCTAssertLessThanOrEqual(qs * 10, ns, q.label)
        }
        let planned = { (p: Profile) in try Planner(root: Fixtures.root).plan(Catalog.manifests("table2", profile: p)).stages }
        let quantizes = { (stages: [PlannedStage]) in Set(stages.filter { $0.kind.hasPrefix("quantize.") }.map(\.key)) }
        let shared = quantizes(try planned(.quick))
        XCTAssertFalse(shared.isEmpty)
        XCTAssertEqual(shared, quantizes(try planned(.default)))
    }

    /// A decode timing with nothing to time, or a batch of no sequences, is refused before anything runs.
    func testDecodeSpeedSettingsAreChecked() throws {
        func field(_ json: String) throws -> String? {
            let s = try JSONDecoder().decode(DecodeSpeedStage.Settings.self, from: Data(json.utf8))
            do { try DecodeSpeedStage().check(s) } catch let e as StageParameterError { return e.field }
            return nil
        }
        XCTAssertNil(try field(#"{"promptTokens": 64, "steps": 8}"#))
        XCTAssertNil(try field(#"{"promptTokens": 64, "throughputBatches": [1, 4]}"#))
        XCTAssertEqual(try field(#"{"promptTokens": 64}"#), "steps")
        XCTAssertEqual(try field(#"{"promptTokens": 64, "throughputBatches": [2, 0]}"#), "throughputBatches[1]")
        XCTAssertEqual(try field(#"{"promptTokens": 0, "steps": 8}"#), "promptTokens")
    }

    /// A model-metric column is read from the row's model stage and takes no parameters.
    func testModelMetricColumnTakesNoParameters() {
        var m = TinyTable.manifest(.tiny)
        var column = EvaluationSpec.modelMetric("peak", metric: "peakResidentGB", lowerIsBetter: true, description: "peak")
        column.parameters["window"] = 64
        m.evaluations.append(column)
        assertFails(m, field: "evaluations[\(m.evaluations.count - 1)]", value: "\"peak\"")
    }

    /// A model metric is one number per row: a claim on it must be a ratio, and a ratio needs a bound.
    func testClaimsOnModelMetricsMustBeRatios() {
        var m = TinyTable.manifest(.tiny)
        m.evaluations.append(.modelMetric("peak", metric: "peakResidentGB", lowerIsBetter: true, description: "peak"))
        let (a, b) = (m.rows[0].label, m.rows[m.rows.count - 1].label)
        m.claims = [ClaimSpec("paired-peak", "a beats b", source: "test", better: .init(a, "peak"), worse: .init(b, "peak"))]
        assertFails(m, field: "claims[0]", value: "\"peak\"")
        m.claims = [.ratio("no-bound", "a over b", source: "test", .init(a, "peak"), over: .init(b, "peak"))]
        assertFails(m, field: "claims[0].ratio", value: "\"no-bound\"")
    }

    func testNothingIsComputedOrCreatedOnFailure() throws {
        let dir = try Fixtures.temporaryDirectory()
        let log = dir.appendingPathComponent("log")
        let status = try QaftProcess.run(["reproduce", "table2", "--profile", "tiny", "--cache", dir.appendingPathComponent("cache").path,
                                          "--output", dir.path, "--quiet"], log: log)
        XCTAssertNotEqual(status, 0)
        // Under the tiny profile table2 asks for packed quantization of stories260K at group 4.
        XCTAssert(QaftProcess.text(log).contains("manifest table2 (Experiments/Table2.swift): rows[2].quantization.groupSize = 4"),
                  QaftProcess.text(log))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))
    }
}

extension ManifestValidationTests {
    func testShardsOutOfRangeOrOfAKindThatCannotBeSplit() {
        var m = TinyTable.manifest(.tiny)
        m.evaluations[0].shards = 0
        assertFails(m, field: "evaluations[0].shards", value: "0")
        m = TinyTable.manifest(.tiny)
        m.evaluations[1] = EvaluationSpec("gsm8k", kind: GSM8KStage.kindName, metric: "accuracy", lowerIsBetter: false, protocolName: "gsm8k",
                                          parameters: ["items": 2], files: ["checksums": "Experiments/Data/SHA256SUMS",
                                                                                        "data": "Experiments/Data/gsm8k/test.jsonl"])
        m.evaluations[1].shards = 2
        m.claims = []
        m.figureColumns = []
        assertFails(m, field: "evaluations[1].shards", value: "2")
    }
}

extension ManifestValidationTests {
    /// Parameters are read once into each stage's typed settings: a wrong type, an out-of-range
    /// bit width (one range, `BitPacking.supportedBits`, for quantize and fine-tune stages alike)
    /// and a missing required field are named; a number is a number (`2` and `2.0` plan the same key).
    func testTypedSettings() throws {
        var m = TinyTable.manifest(.tiny)
        m.evaluations[0].parameters["window"] = "64"
        assertFails(m, field: "evaluations[0].parameters.window", value: "\"64\"")
        for bits in [1, 9] {
            m = TinyTable.manifest(.tiny)
            m.rows[0].quantization = QuantizationSpec("rtn", bits: bits, groupSize: 4)
            assertFails(m, field: "rows[0].quantization.bits", value: String(bits))
        }
        var tuned = try XCTUnwrap(Catalog.manifests("tinymethods", profile: .tiny).first)
        let row = try XCTUnwrap(tuned.rows.firstIndex { $0.fineTuning != nil && $0.quantization == nil })
        tuned.rows[row].fineTuning!.parameters["bits"] = 9
        XCTAssertEqual(planError(tuned).map { "\($0)".contains("rows[\(row)].fineTuning.parameters.bits = 9: must be 2...8") }, true)
        tuned.rows[row].fineTuning!.parameters["bits"] = nil
        tuned.rows[row].fineTuning!.parameters["steps"] = nil
        XCTAssertEqual(planError(tuned).map { "\($0)".contains("rows[\(row)].fineTuning.parameters.steps = (missing): required") }, true)

        func finetuneKey(_ learningRate: Value) throws -> StageKey {
            var t = try XCTUnwrap(Catalog.manifests("tinymethods", profile: .tiny).first)
            t.rows[row].fineTuning!.parameters["learningRate"] = learningRate
            return try XCTUnwrap(try Planner(root: Fixtures.root).plan([t]).stages.first { $0.label.hasSuffix("/\(t.rows[row].label)/finetune") }).key
        }
        XCTAssertEqual(try finetuneKey(2), try finetuneKey(2.0))
        XCTAssertNotEqual(try finetuneKey(2), try finetuneKey(3))
    }
}

extension ManifestValidationTests {
    /// Precision is a typed setting of fine-tuning and scoring stages, so it is in their keys: the
    /// profile sets it, `Catalog.manifests` overrides it (the `--finetune-precision` and
    /// `--scoring-precision` flags), a bad value is named, and a quantize stage takes none.
    func testPrecisionSetting() throws {
        func plan(_ fineTuning: ComputePrecision?, _ scoring: ComputePrecision?) throws -> Plan {
            try Planner(root: Fixtures.root).plan(try Catalog.manifests("tinymethods", profile: .tiny, fineTuningPrecision: fineTuning,
                                                                        scoringPrecision: scoring))
        }
        func keys(_ p: Plan, _ kind: String) -> [StageKey] { p.stages.filter { $0.kind.hasPrefix(kind) }.map(\.key) }
        let profile = try plan(nil, nil), fp32 = try plan(.fp32, .fp32), bf16 = try plan(.bf16, nil), scored = try plan(nil, .bf16)
        XCTAssertEqual(Base.settings(.tiny).fineTuningPrecision, .fp32)
        XCTAssertEqual(Base.settings(.default).fineTuningPrecision, .bf16)
        XCTAssertEqual(Base.settings(.default).scoringPrecision, .fp32)
        XCTAssertEqual(profile.stages.map(\.key), fp32.stages.map(\.key), "tiny's profile precision is fp32 throughout")
        XCTAssertFalse(keys(profile, "finetune.").isEmpty)
        XCTAssertTrue(Set(keys(profile, "finetune.")).isDisjoint(with: keys(bf16, "finetune.")))
        XCTAssertEqual(keys(profile, "quantize."), keys(bf16, "quantize."), "quantization always computes in fp32")
        XCTAssertEqual(keys(profile, "finetune."), keys(scored, "finetune."))
        // Scoring stages move with the scoring precision; decode timing (deployed form) does not.
        let scoringKeys = { (p: Plan) in p.stages.filter { $0.kind.hasPrefix("evaluate-") && $0.kind != DecodeSpeedStage.kindName }.map(\.key) }
        XCTAssertTrue(Set(scoringKeys(profile)).isDisjoint(with: scoringKeys(scored)))
        XCTAssertFalse(keys(profile, DecodeSpeedStage.kindName).isEmpty)
        XCTAssertEqual(keys(profile, DecodeSpeedStage.kindName), keys(scored, DecodeSpeedStage.kindName))
        let manifest = try XCTUnwrap(Catalog.manifests("tinymethods", profile: .tiny, scoringPrecision: .bf16).first)
        let scoring = manifest.evaluations.filter { $0.parameters["precision"] != nil }
        XCTAssertFalse(scoring.isEmpty)
        XCTAssert(scoring.allSatisfy { $0.protocolName.hasSuffix(", bf16 scoring") && $0.parameters["precision"] == "bf16" })

        var m = TinyTable.manifest(.tiny)
        m.evaluations[0].parameters["precision"] = "bf17"
        assertFails(m, field: "evaluations[0].parameters.precision", value: "\"bf17\"")
        let quantize = try JSONDecoder().decode(MethodSettings.self, from: Data(#"{"bits": 4, "groupSize": 64, "precision": "bf16"}"#.utf8))
        XCTAssertThrowsError(try MethodStage(method: "rtn", training: false).check(quantize)) {
            XCTAssertEqual(($0 as? StageParameterError)?.field, "precision")
        }
    }
}
