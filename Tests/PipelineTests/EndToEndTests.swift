import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The tiny table through every stage: plan, run, cache reuse, and recomputation of exactly the
/// stages downstream of a changed parameter.
final class EndToEndTests: XCTestCase {
    func plan(_ m: Manifest) throws -> Plan { try Planner(root: Fixtures.root).plan([m]) }

    func testTinyTableRunsReusesAndRecomputesDownstreamOnly() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        var manifest = TinyTable.manifest(.tiny)
        let first = try plan(manifest)
        XCTAssertEqual(first.stages.map(\.kind), ["load-model", "evaluate-perplexity", "evaluate-perplexity", "report"])

        let run1 = try Runner(cache: cache).run(first)
        XCTAssertEqual(Set(run1.computed), Set(first.stages.map(\.key)))
        let report = try XCTUnwrap(try cache.result(XCTUnwrap(first.reports["tinytable"]))?.artifactURL)
        let files = try FileDigest.files(in: report).map(\.0)
        XCTAssertEqual(files, ["Figures/tinytable-tiny.gp", "Figures/tinytable-tiny.png", "Results/tinytable-tiny-provenance.json",
                               "Results/tinytable-tiny-wide.csv", "Results/tinytable-tiny.csv", "Results/tinytable-tiny.md"])
        let png = try Data(contentsOf: report.appendingPathComponent("Figures/tinytable-tiny.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let csv = try String(contentsOf: report.appendingPathComponent("Results/tinytable-tiny.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 3)
        for st in first.stages where st.kind == PerplexityStage.kindName {
            let m = try XCTUnwrap(try cache.result(st.key)).output.metrics
            let ppl = try XCTUnwrap(m["perplexity"]), se = try XCTUnwrap(m["perplexity_stderr"])
            // stories260K is a TinyStories model: single-digit perplexity on TinyStories text.
            XCTAssert(ppl > 1 && ppl < 10, "perplexity \(ppl)")
            XCTAssert(se > 0 && se < ppl, "stderr \(se)")
            XCTAssert(csv.contains(",\(ppl),\(se),"), csv)
        }
        let computations = try cache.computations().count
        XCTAssertEqual(computations, 4)

        let run2 = try Runner(cache: cache).run(first)
        XCTAssertEqual(run2.computed, [])
        XCTAssertEqual(try cache.computations().count, computations, "a second run must compute nothing")

        manifest.evaluations[1].parameters["window"] = 256
        let second = try plan(manifest)
        let run3 = try Runner(cache: cache).run(second)
        let changed = Set(second.stages.map(\.key)).subtracting(first.stages.map(\.key))
        XCTAssertEqual(Set(run3.computed), changed)
        XCTAssertEqual(Set(run3.computed.compactMap { second.stage($0)?.label }),
                       ["tinytable/stories260K fp32/ppl 128-token windows", "tinytable/report"])

        // The first report's provenance: its keys, and stale once a parameter of its target changed.
        let results = report.appendingPathComponent("Results")
        let provenance = try XCTUnwrap(try ReportProvenance.all(in: results).first?.provenance)
        XCTAssertEqual(provenance.reportKey, first.reports["tinytable"]?.hex)
        XCTAssertEqual(Set(provenance.stages.values), Set(first.stages.filter { $0.kind != "report" && $0.kind != "load-model" }.map(\.key.hex)))
        XCTAssertFalse(provenance.commit.isEmpty)
        XCTAssert(try String(contentsOf: results.appendingPathComponent("tinytable-tiny.md"), encoding: .utf8).contains("Made by commit \(provenance.commit)"))
        for (planned, state) in [(first, ReportProvenance.State.current), (second, .stale(made: provenance.commit))] {
            let states = try ReportProvenance.check(results) { target, profile in
                XCTAssertEqual([target, profile], ["tinytable", "tiny"])
                return planned.reports[target]?.hex
            }
            XCTAssertEqual(states.map(\.report), ["tinytable-tiny"])
            XCTAssertEqual(states.map(\.state), [state])
        }
        let committed = dir.appendingPathComponent("Results")
        try FileManager.default.copyItem(at: results, to: committed)
        try FileManager.default.removeItem(at: ReportProvenance.url(name: "tinytable-tiny", in: committed))
        XCTAssertEqual(try ReportProvenance.check(committed) { _, _ in nil }.map(\.state), [.noProvenance])
        XCTAssertEqual(try cache.check().filter(\.isCorruption).map(\.message), [])
    }

    /// `qaft reproduce tinytable|tinymethods --model DIR` on the tiny Qwen2 and Mistral folders:
    /// every stage runs (fine-tuning, export to the float GGUF artifact with biases, head_dim and
    /// window, evaluation, report), and the fp row's perplexity is the folder's own.
    func testTinyTablesRunOnQwen2AndMistralFolders() throws {
        for family in ["qwen2", "mistral"] {
            let folder = try Fixtures.familyFolder(family)
            let cache = try Cache(root: try Fixtures.temporaryDirectory("cache" + family))
            let plan = try Planner(root: Fixtures.root).plan(
                Catalog.manifests("tinytable", profile: .tiny, model: .file(folder.path, tokenizer: nil))
                + Catalog.manifests("tinymethods", profile: .tiny, model: .file(folder.path, tokenizer: nil)))
            let run = try Runner(cache: cache).run(plan)
            XCTAssertEqual(Set(run.computed), Set(plan.stages.map(\.key)), family)
            for st in plan.stages where st.kind.hasPrefix("finetune.") {
                let out = try XCTUnwrap(try cache.result(st.key)).output
                XCTAssert(try XCTUnwrap(out.series["loss"]).allSatisfy(\.isFinite), st.label)
                if ["finetune.qa-lora", "finetune.lota-qaf"].contains(st.kind) { XCTAssertEqual(out.metrics["mergeDifference"], 0, st.label) }
            }
            for st in plan.stages where st.kind == PerplexityStage.kindName {
                let ppl = try XCTUnwrap(try cache.result(st.key)?.output.metrics["perplexity"])
                XCTAssert(ppl.isFinite && ppl > 1, "\(st.label): \(ppl)")
            }
            XCTAssertEqual(try cache.check().filter(\.isCorruption).map(\.message), [], family)
        }
    }

    /// Fine-tuning, export, artifacts, task scoring and the report, on stories260K.
    func testTinyMethodsTrainExportEvaluateAndReport() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        // The tiny profile trains on one document; cut into examples, two can be held out.
        var manifest = TinyMethods.manifest(.tiny)
        let text = try OneStageCommandsTests.trainingText(in: dir)
        for r in manifest.rows.indices where manifest.rows[r].fineTuning != nil {
            manifest.rows[r].fineTuning!.data = text.path
            manifest.rows[r].fineTuning!.parameters.merge(["heldOut": 2, "heldOutEvery": 2]) { _, b in b }
        }
        let p = try plan(manifest)
        let run = try Runner(cache: cache).run(p)
        XCTAssertEqual(Set(run.computed), Set(p.stages.map(\.key)))
        for st in p.stages where st.kind.hasPrefix("finetune.") {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            let losses = try XCTUnwrap(out.series["loss"])
            XCTAssertEqual(losses.count, 4, st.label)
            XCTAssert(losses.allSatisfy(\.isFinite), st.label)
            XCTAssertNotNil(out.notes["precision"], st.label)
            // The merged integer exports compute their training forward bit for bit.
            if ["finetune.qa-lora", "finetune.lota-qaf"].contains(st.kind) { XCTAssertEqual(out.metrics["mergeDifference"], 0, st.label) }
        }
        for st in p.stages where st.kind == TaskStage.kindName {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            let acc = try XCTUnwrap(out.metrics["accuracy"])
            XCTAssert((0...1).contains(acc), "\(st.label): \(acc)")
            let items = try XCTUnwrap(out.series["accuracy"])
            // 3 items per commonsense task; 1 per MMLU subject.
            XCTAssertEqual(items.count, st.label.hasSuffix("CSQA") ? 21 : 57, st.label)
        }
        // The fine-tuned rows are models of their own: the LoRA row's perplexity differs from fp's.
        let ppl = { (row: String) -> Double? in
            try? cache.result(XCTUnwrap(p.stages.first { $0.label == "tinymethods/\(row)/ppl" }).key)?.output.metrics["perplexity"]
        }
        XCTAssertNotEqual(try XCTUnwrap(ppl("fp")), try XCTUnwrap(ppl("LoRA")))
        let report = try XCTUnwrap(try cache.result(XCTUnwrap(p.reports["tinymethods"]))?.artifactURL)
        let csv = try String(contentsOf: report.appendingPathComponent("Results/tinymethods-tiny.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 6 * 6)
        // Model-metric columns show what each row's fine-tuning measured; the fp row has no fine-tuning.
        for st in p.stages where st.kind.hasPrefix("finetune.") {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            let peak = try XCTUnwrap(out.metrics["peakResidentGB"], st.label)
            XCTAssertGreaterThan(peak, 0, st.label)
            XCTAssertGreaterThanOrEqual(peak, try XCTUnwrap(out.metrics["peakAboveStartGB"]), st.label)
            XCTAssertGreaterThan(try XCTUnwrap(out.metrics["stepSeconds"]), 0, st.label)
            let row = st.label.split(separator: "/")[1]
            // A fine-tuned row's protocol names its training precision (tiny: fp32).
            XCTAssert(csv.contains(",\(row),peak GB,peakResidentGB,\"peak resident set while fine-tuning, fine-tuned in fp32\",\(peak),"), "\(row): \(csv)")
        }
        XCTAssert(csv.contains(",fp,peak GB,peakResidentGB,peak resident set while fine-tuning,,"), csv)
        // Every fine-tuned row's loss curve, as CSV (one line per step) and as a rendered line chart.
        let tuned = p.stages.filter { $0.kind.hasPrefix("finetune.") }
        let curves = try String(contentsOf: report.appendingPathComponent("Results/tinymethods-tiny-loss.csv"), encoding: .utf8)
        XCTAssertEqual(curves.split(separator: "\n").count, 1 + 4 * tuned.count)
        let firstLoss = try XCTUnwrap(try cache.result(XCTUnwrap(tuned.first).key)?.output.series["loss"]?.first)
        XCTAssert(curves.contains(",1,\(firstLoss)\n"), curves)
        let lossPNG = try Data(contentsOf: report.appendingPathComponent("Figures/tinymethods-tiny-loss.png"))
        XCTAssertEqual(Array(lossPNG.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        // And the held-out curve (tiny: 2 examples, every 2 of 4 steps): steps 0 (before training), 2 and 4.
        let heldOut = try String(contentsOf: report.appendingPathComponent("Results/tinymethods-tiny-heldout.csv"), encoding: .utf8)
        XCTAssertEqual(heldOut.split(separator: "\n").count, 1 + 3 * tuned.count, heldOut)
        for st in tuned {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            XCTAssertEqual(out.series["heldOutStep"], [0, 2, 4], st.label)
            XCTAssertEqual(out.series["heldOutLoss"]?.first, out.metrics["heldOutLossBefore"], st.label)
            XCTAssertEqual(out.series["heldOutLoss"]?.last, out.metrics["heldOutLossAfter"], st.label)
        }
        XCTAssertEqual(Array(try Data(contentsOf: report.appendingPathComponent("Figures/tinymethods-tiny-heldout.png")).prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        // The Pareto scatter: one point per row (the fp row's float model timed as it is), each
        // speed measured by a decode stage of the row's model, with the others' load beside it.
        let scatter = try String(contentsOf: report.appendingPathComponent("Results/tinymethods-tiny-perplexity-vs-speed.csv"), encoding: .utf8)
        XCTAssertEqual(scatter.split(separator: "\n").count, 1 + tuned.count + 1, scatter)
        let decodes = p.stages.filter { $0.kind == DecodeSpeedStage.kindName }
        XCTAssertEqual(decodes.count, tuned.count + 1)
        for st in decodes {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            XCTAssertGreaterThan(try XCTUnwrap(out.metrics["decodeTokensPerSecond"]), 0, st.label)
            XCTAssertNotNil(out.metrics["decodeTokensPerSecond_otherLoad"], st.label)
        }
        let scatterPNG = try Data(contentsOf: report.appendingPathComponent("Figures/tinymethods-tiny-perplexity-vs-speed.png"))
        XCTAssertEqual(Array(scatterPNG.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertEqual(try Runner(cache: cache).run(p).computed, [], "a second run must compute nothing")
        // Every timing carries the share of the cores other processes took meanwhile, and the
        // step-time cell says so exactly when that share was too large for the time to mean much.
        for st in tuned {
            let out = try XCTUnwrap(try cache.result(st.key)).output
            let share = try XCTUnwrap(out.metrics["stepSeconds_otherLoad"], st.label)
            XCTAssert((0...1).contains(share), "\(st.label): \(share)")
            let row = st.label.split(separator: "/")[1]
            let cell = try XCTUnwrap(csv.split(separator: "\n").first { $0.contains(",\(row),step s,") }, "\(row): \(csv)")
            XCTAssertEqual(cell.contains("timed beside other work"), share >= MachineLoad.quietBelow, "\(cell)")
        }
        // --retime: a fine-tune cached before loads were recorded is measured again, with the same
        // model (stages are deterministic), and the report is made again from it.
        let old = try XCTUnwrap(tuned.first)
        var record = try XCTUnwrap(try cache.result(old.key)).output
        for m in Array(record.metrics.keys) where m.hasSuffix("_otherLoad") { record.metrics[m] = nil }
        let encoded = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        try cache.db.write { x in try x.execute("UPDATE results SET output = ? WHERE key = ?", [.text(encoded), .text(old.key.hex)]) }
        let retiming = try Retiming.forget(in: p, cache: cache)
        XCTAssert(retiming.dropped.contains { $0.key == old.key }, "\(retiming.dropped.map(\.label))")
        let rerun = try Runner(cache: cache).run(p), reportKey = try XCTUnwrap(p.reports["tinymethods"])
        XCTAssertEqual(Set(rerun.computed), Set(retiming.dropped.map(\.key) + [reportKey]))
        try retiming.verify(cache)
        XCTAssertNotNil(try cache.result(old.key)?.output.metrics["stepSeconds_otherLoad"])
        XCTAssertEqual(try cache.check().filter(\.isCorruption).map(\.message), [])
    }

    func testPerplexityResumesFromItsCheckpoint() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let p = try plan(TinyTable.manifest(.tiny))
        let clean = try Cache(root: dir.appendingPathComponent("clean"))
        try Runner(cache: clean).run(p)
        let ppl = p.stages[1]
        // A run killed after 3 windows leaves their sums in the stage's checkpoint.
        let done = try XCTUnwrap(try clean.result(ppl.key)).output.series["perplexity"]!
        try cache.checkpoint(for: ppl.key).save(PerplexityStage.State(windowNLL: Array(done.prefix(3))))
        var resumed: [Int] = []
        try Runner(cache: cache) { if case .resumed(_, let n) = $0 { resumed.append(n) } }.run(p)
        XCTAssertEqual(resumed, [3])
        XCTAssertEqual(try cache.result(ppl.key)?.output, try clean.result(ppl.key)?.output)
        XCTAssertFalse(cache.checkpoint(for: ppl.key).exists, "a committed stage's checkpoint is removed")
    }
}
