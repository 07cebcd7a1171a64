import Experiments
import Export
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// llama.cpp's own speed columns (`LlamaCppSpeedStage`): on stories260K a float LoRA row (exported
/// with F32 projections, which llama.cpp runs) and a per-channel L4Q w4 row (the FFN's 172 columns
/// are no whole number of llama.cpp's 32-weight blocks: refused by the export), with and without a
/// llama.cpp build, through the report and its speed scatter.
final class LlamaCppSpeedTests: XCTestCase {
    static let decode = "llama.cpp decode tok/s", prefill = "llama.cpp prefill tok/s"

    /// Rows on stories260K unless `smolLM2`: then an RTN w4 g64 row (seconds to quantize; exported
    /// as Q4_1 with SmolLM2's own tokenizer, which llama.cpp needs to load it) or a "4&16" QLoRA* row
    /// (one training step).
    func manifest(_ build: LlamaCppBuild?, rows: [String], data: URL, smolLM2: Bool = false) -> Manifest {
        var base = Base.settings(.tiny)
        if smolLM2 { base.model = .smolLM2 }
        let all = [RowSpec("LoRA", fineTuning: base.fineTuning("lora", ptq: false, learningRate: 1e-3, ["rank": 2, "alpha": 4])),
                   RowSpec("L4Q w4", fineTuning: base.fineTuning("l4q", ptq: false, learningRate: 1e-3,
                                                          ["rank": 2, "alpha": 4, "bits": 4, "groupSize": 4, "extra": ["perChannel": 1]])),
                   RowSpec("RTN w4", quantization: QuantizationSpec("rtn", bits: 4, groupSize: 64, parameters: ["calibrationWindows": 0])),
                   RowSpec("QLoRA* w4", fineTuning: base.fineTuning("qlora-uniform", ptq: false, learningRate: 1e-3,
                                                             ["rank": 2, "alpha": 4, "bits": 4, "groupSize": 64, "steps": 1]))]
            .map(base.measuringDecode)
            .map { r -> RowSpec in
                var r = r
                r.fineTuning?.data = data.path
                return r
            }
        let columns = base.llamaCppSpeed().map { build?.applied(to: $0) ?? $0 }
        return Manifest(id: "llama-speed", title: "llama.cpp speed check", profile: .tiny, seed: base.seed, model: base.model,
                        rows: all.filter { rows.contains($0.label) }, evaluations: columns,
                        scatters: [ScatterSpec("speed", title: "decode speeds", x: .init(.model("decodeTokensPerSecond"), label: "decode tokens/s", higherIsBetter: true),
                                               y: .init(.model("bitsPerWeight"), label: "bits per weight", higherIsBetter: false),
                                               companion: Base.llamaCppCompanion)])
    }

    /// The report's long CSV and the stage records of the llama.cpp cells, after running `m`.
    func run(_ m: Manifest, in dir: URL) throws -> (csv: String, scatter: String, script: String, cells: [PlannedStage], cache: Cache) {
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let plan = try Planner(root: Fixtures.root).plan([m])
        try Runner(cache: cache).run(plan)
        let report = try XCTUnwrap(try cache.result(XCTUnwrap(plan.reports[m.id]))?.artifactURL)
        func text(_ path: String) throws -> String { try String(contentsOf: report.appendingPathComponent(path), encoding: .utf8) }
        return (try text("Results/llama-speed-tiny.csv"), try text("Results/llama-speed-tiny-speed.csv"), try text("Figures/llama-speed-tiny-speed.gp"),
                plan.stages.filter { $0.kind == LlamaCppSpeedStage.kindName }, cache)
    }

    func testWithoutABuildTheCellsAreEmptyAndSayWhy() throws {
        let dir = try Fixtures.temporaryDirectory()
        let m = manifest(.unavailable("llama.cpp could not be built here"), rows: ["LoRA"], data: try OneStageCommandsTests.trainingText(in: dir))
        let (csv, scatter, script, cells, _) = try run(m, in: dir)
        // Both columns read one stage per row.
        XCTAssertEqual(cells.count, 1)
        for column in [Self.decode, Self.prefill] {
            XCTAssert(csv.contains(",LoRA,\(column),"), csv)
            let line = try XCTUnwrap(csv.split(separator: "\n").first { $0.contains(",LoRA,\(column),") })
            XCTAssert(line.contains(" — not measured: llama.cpp could not be built here\",,,"), String(line))
        }
        // No llama.cpp number: the scatter's companion column is empty and the figure plots qaft's point only.
        let point = try XCTUnwrap(scatter.split(separator: "\n").dropFirst().first)
        XCTAssert(point.hasPrefix("LoRA,") && point.hasSuffix(",1,"), String(point))
        XCTAssertFalse(script.contains("$companion"), script)
    }

    func testARowLlamaCppCannotRunSaysTheExportsOwnRefusal() throws {
        let dir = try Fixtures.temporaryDirectory()
        // The refusal comes before llama-bench would run, so an executable that always fails stands in for it.
        let m = manifest(.built(llamaBench: "/bin/false", source: "test"), rows: ["L4Q w4"], data: try OneStageCommandsTests.trainingText(in: dir))
        let (csv, _, _, cells, cache) = try run(m, in: dir)
        let model = try XCTUnwrap(try cache.result(XCTUnwrap(cells.first?.inputs["model"])))
        let (deployed, tokenizer) = try DeployedSource.read(try ModelArtifact.deployedFile(model))
        var refusal = ""
        XCTAssertThrowsError(try LlamaCppExport.write(deployed, to: dir.appendingPathComponent("x.gguf"), metadata: tokenizer)) { refusal = "\($0)" }
        XCTAssert(refusal.contains("32-weight blocks"), refusal)
        let out = try XCTUnwrap(try cache.result(XCTUnwrap(cells.first).key)).output
        XCTAssertEqual(out.notes[LlamaCppSpeedStage.notMeasured], "not exportable to llama.cpp: " + refusal)
        XCTAssertEqual(out.metrics, [:])
        XCTAssert(csv.contains(" — not measured: not exportable to llama.cpp: " + refusal), csv)
    }

    func testAnUnmergedAdapterSaysLlamaBenchTakesNoLora() throws {
        let dir = try Fixtures.temporaryDirectory()
        _ = try Fixtures.smolLM2()
        // As above, llama-bench never runs for such a row.
        let m = manifest(.built(llamaBench: "/bin/false", source: "test"), rows: ["QLoRA* w4"], data: try OneStageCommandsTests.trainingText(in: dir),
                         smolLM2: true)
        let (csv, _, _, cells, cache) = try run(m, in: dir)
        let reason = "a model with an unmerged fp adapter (\"4&16\"): llama-bench of the pinned llama.cpp takes no --lora, so the adapter path is not measured"
        XCTAssertEqual(try XCTUnwrap(try cache.result(XCTUnwrap(cells.first).key)).output.notes[LlamaCppSpeedStage.notMeasured], reason)
        XCTAssert(csv.contains(" — not measured: " + reason.replacingOccurrences(of: "\"", with: "\"\"")), csv)
    }

    func testTheRunGivesItsBuildToTheSpeedFiguresOnly() throws {
        let built = LlamaCppBuild.built(llamaBench: "/bin/true", source: "llama-cpp-python==0.3.36 sha256:abc")
        for target in ["qeft-figure1", "l4q-figure1"] {
            // The default profile (SmolLM2): these figures' tiny rows use groups of 4, which their packed rows refuse.
            let m = try XCTUnwrap(try Catalog.manifests(target, profile: .default, llamaCpp: built).first)
            let columns = m.evaluations.filter { $0.kind == LlamaCppSpeedStage.kindName }
            XCTAssertEqual(columns.map(\.label), [Self.decode, Self.prefill], target)
            for c in columns {
                XCTAssertEqual(c.parameters["llamaCpp"], "llama-cpp-python==0.3.36 sha256:abc")
                XCTAssertNil(c.parameters["unavailable"])
                XCTAssertEqual(c.files[LlamaCppSpeedStage.benchFile], "/bin/true")
            }
            // One stage per row serves both columns.
            let plan = try Planner(root: Fixtures.root).plan([m])
            XCTAssertEqual(plan.stages.filter { $0.kind == LlamaCppSpeedStage.kindName }.count, m.rows.count, target)
            let unbuilt = try XCTUnwrap(try Catalog.manifests(target, profile: .default, llamaCpp: .unavailable("why")).first)
            XCTAssert(unbuilt.evaluations.filter { $0.kind == LlamaCppSpeedStage.kindName }.allSatisfy { $0.parameters["unavailable"] == "why" && $0.files.isEmpty })
        }
        XCTAssertEqual(LlamaCppBuild(environment: [:]), .unavailable("no llama.cpp build: QAFT_LLAMA_BENCH is not set (`make reproduce-<target>` builds llama.cpp and sets it)"))
        XCTAssertEqual(LlamaCppBuild(environment: ["QAFT_LLAMA_BENCH": "/no/llama-bench", "QAFT_LLAMA_CPP": "x"]),
                       .unavailable("QAFT_LLAMA_BENCH=/no/llama-bench is not an executable (llama.cpp could not be built: see `make llama-cpp`)"))
        XCTAssertEqual(LlamaCppBuild(environment: ["QAFT_LLAMA_BENCH": "/bin/true", "QAFT_LLAMA_CPP": "x"]), .built(llamaBench: "/bin/true", source: "x"))
    }

    /// With a real llama-bench (`$QAFT_LLAMA_BENCH`; skipped without one): SmolLM2's RTN w4 row is
    /// measured and drawn beside qaft's own speed; stories260K's LoRA row, exported without the
    /// tokenizer llama.cpp needs, is empty with that reason.
    func testARealBuildMeasuresTheExportedRow() throws {
        let build = LlamaCppBuild(environment: ProcessInfo.processInfo.environment.merging(["QAFT_LLAMA_CPP": "test"]) { a, _ in a })
        guard case .built = build else { throw XCTSkip("no llama-bench: QAFT_LLAMA_BENCH does not name an executable (`make llama-cpp` builds it)") }
        _ = try Fixtures.smolLM2()
        let dir = try Fixtures.temporaryDirectory()
        let data = try OneStageCommandsTests.trainingText(in: dir)
        let (csv, scatter, script, cells, cache) = try run(manifest(build, rows: ["RTN w4"], data: data, smolLM2: true), in: dir)
        let rtn = try XCTUnwrap(try cache.result(XCTUnwrap(cells.first).key)).output
        let decode = try XCTUnwrap(rtn.metrics["decodeTokensPerSecond"]), prefill = try XCTUnwrap(rtn.metrics["prefillTokensPerSecond"])
        XCTAssertGreaterThan(decode, 0)
        XCTAssertGreaterThan(prefill, 0)
        XCTAssert(rtn.notes["modelType"]?.hasSuffix(" Q4_1") == true, "\(rtn.notes)")
        XCTAssert(csv.contains(",RTN w4,\(Self.decode),decodeTokensPerSecond,"), csv)
        XCTAssert(csv.contains(",\(decode),") && csv.contains(",\(prefill),"), csv)
        // The scatter: qaft's speed and llama.cpp's decode beside it, drawn as a second series.
        let line = try XCTUnwrap(scatter.split(separator: "\n").dropFirst().first)
        XCTAssert(line.hasPrefix("RTN w4,") && line.hasSuffix(",1,\(decode)"), scatter)
        XCTAssert(script.contains("title \"llama.cpp (exported GGUF)\""), script)

        let tiny = try run(manifest(build, rows: ["LoRA"], data: data), in: dir.appendingPathComponent("tiny"))
        XCTAssert(tiny.csv.contains(" — not measured: the model carries no GGUF tokenizer (tokenizer.ggml.model; a llama2.c source)"), tiny.csv)
    }
}
