import Experiments
import Export
import Foundation
import Models
@testable import Pipeline
import TestSupport
import XCTest

/// llama.cpp's own speed columns (`LlamaCppSpeedStage`): a row llama.cpp cannot run (a per-channel
/// L4Q w4 row on stories260K, whose FFN's 172 columns are no whole number of llama.cpp's 32-weight
/// blocks) says why and needs no build; a row it can run needs llama-bench (and llama-completion
/// beside it for a "4&16" row), found when the cell runs, never named by the key; through the
/// report and its speed scatter.
final class LlamaCppSpeedTests: XCTestCase {
    static let decode = "llama.cpp decode tok/s", prefill = "llama.cpp prefill tok/s"

    /// Rows on stories260K unless `smolLM2`: then an RTN w4 g64 row (seconds to quantize; exported
    /// as Q4_1 with SmolLM2's own tokenizer, which llama.cpp needs to load it) or a "4&16" QLoRA* row
    /// (one training step).
    func manifest(rows: [String], data: URL, smolLM2: Bool = false) -> Manifest {
        var base = Base.settings(.tiny)
        if smolLM2 { base.model = .smolLM2 }
        let all = [RowSpec("LoRA", fineTuning: base.fineTuning("lora", ptq: false, learningRate: 1e-3, ["rank": 2, "alpha": 4])),
                   RowSpec("L4Q w4", fineTuning: base.fineTuning("l4q", ptq: false, learningRate: 1e-3,
                                                          ["rank": 2, "alpha": 4, "bits": 4, "groupSize": 4, "extra": ["perChannel": 1]])),
                   RowSpec("RTN w4", quantization: QuantizationSpec("rtn", bits: 4, groupSize: 64, parameters: ["calibrationWindows": 0])),
                   RowSpec("QLoRA* w4", fineTuning: base.fineTuning("qlora-uniform", ptq: false, learningRate: 1e-3,
                                                             ["rank": 2, "alpha": 4, "bits": 4, "groupSize": 64, "steps": 1]))]
            .map { r -> RowSpec in
                var r = r
                r.fineTuning?.data = data.path
                return r
            }
        return Manifest(id: "llama-speed", title: "llama.cpp speed check", profile: .tiny, seed: base.seed, model: base.model,
                        rows: all.filter { rows.contains($0.label) }, evaluations: [base.decodeSpeed()] + base.llamaCppSpeed(),
                        scatters: [ScatterSpec("speed", title: "decode speeds", x: Base.decodeAxis,
                                               y: .init(.model("bitsPerWeight"), label: "bits per weight", higherIsBetter: false),
                                               companion: Base.llamaCppCompanion)])
    }

    /// Runs `body` with `$QAFT_LLAMA_BENCH` naming `path` (a file that does not exist: no build),
    /// restoring the variable afterwards.
    func withLlamaBench<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        let saved = ProcessInfo.processInfo.environment[LlamaCppBuild.benchVariable]
        setenv(LlamaCppBuild.benchVariable, path, 1)
        defer { if let saved { setenv(LlamaCppBuild.benchVariable, saved, 1) } else { unsetenv(LlamaCppBuild.benchVariable) } }
        return try body()
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

    func testWithoutABuildTheRunStopsNamingWhereItLookedAndCachesNothingForTheCell() throws {
        _ = try Fixtures.smolLM2()
        let dir = try Fixtures.temporaryDirectory()
        let m = manifest(rows: ["RTN w4"], data: try OneStageCommandsTests.trainingText(in: dir), smolLM2: true)
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let plan = try Planner(root: Fixtures.root).plan([m])
        let cell = try XCTUnwrap(plan.stages.first { $0.kind == LlamaCppSpeedStage.kindName })
        try withLlamaBench("/no/llama-bench") {
            XCTAssertThrowsError(try Runner(cache: cache).run(plan)) { error in
                XCTAssertEqual("\(error)", "stage \(cell.label): no llama-bench: QAFT_LLAMA_BENCH names /no/llama-bench is not an executable "
                               + "(`make llama-cpp` builds it from \(LlamaCppBuild.pinnedSource))")
            }
        }
        // The row's model is kept for the rerun; the cell is not, so a run with a build measures it.
        XCTAssertNotNil(try cache.result(XCTUnwrap(cell.inputs["model"])))
        XCTAssertNil(try cache.result(cell.key))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.store.stagingDirectory.path), [])
    }

    func testARowLlamaCppCannotRunSaysTheExportsOwnRefusal() throws {
        let dir = try Fixtures.temporaryDirectory()
        // The refusal comes before llama-bench is looked for: no build is needed.
        let m = manifest(rows: ["L4Q w4"], data: try OneStageCommandsTests.trainingText(in: dir))
        let (csv, _, _, cells, cache) = try withLlamaBench("/no/llama-bench") { try run(m, in: dir) }
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

    /// A "4&16" row (base GGUF + LoRA adapter GGUF) is timed by llama-completion --lora, beside
    /// llama-bench (skipped without a build).
    func testAnUnmergedAdapterIsTimedByLlamaCompletion() throws {
        do { _ = try LlamaCppBuild.llamaBench(for: "test") } catch { throw XCTSkip("\(error)") }
        _ = try Fixtures.smolLM2()
        let dir = try Fixtures.temporaryDirectory()
        let m = manifest(rows: ["QLoRA* w4"], data: try OneStageCommandsTests.trainingText(in: dir), smolLM2: true)
        let (csv, scatter, _, cells, cache) = try run(m, in: dir)
        let out = try XCTUnwrap(try cache.result(XCTUnwrap(cells.first).key)).output
        XCTAssertEqual(out.notes["tool"], "llama-completion --lora")
        let decode = try XCTUnwrap(out.metrics["decodeTokensPerSecond"]), prefill = try XCTUnwrap(out.metrics["prefillTokensPerSecond"])
        XCTAssertGreaterThan(decode, 0)
        XCTAssertGreaterThan(prefill, decode, "a 64-token batch is faster per token than one-token steps")
        XCTAssert(csv.contains(",QLoRA* w4,\(Self.decode),decodeTokensPerSecond,") && csv.contains(",\(decode),"), csv)
        XCTAssert(try XCTUnwrap(scatter.split(separator: "\n").dropFirst().first).hasSuffix(",\(decode)"), scatter)
    }

    /// The timing prompt is the first 64 tokens of the stage's text in the row's own tokenizer.
    func testTheTimingPromptHasThePromptTokens() throws {
        let tokenizer = try ModelLoader.loadTokenizer(try Fixtures.smolLM2())
        let prompt = try LlamaCppSpeedStage.prompt(tokens: 64, tokenizer: tokenizer)
        XCTAssertEqual(tokenizer.encode(prompt).count, 64)
        XCTAssert(LlamaCppSpeedStage.promptText.hasPrefix(prompt), prompt)
        XCTAssertThrowsError(try LlamaCppSpeedStage.prompt(tokens: 4096, tokenizer: tokenizer)) { e in
            XCTAssert("\(e)".contains("the timing prompt has only"), "\(e)")
        }
    }

    func testTheSpeedFiguresKeyOnThePinnedSourceOnly() throws {
        for target in ["qeft-figure1", "l4q-figure1"] {
            // The default profile (SmolLM2): these figures' tiny rows use groups of 4, which their packed rows refuse.
            let m = try XCTUnwrap(try Catalog.manifests(target, profile: .default).first)
            let columns = m.evaluations.filter { $0.kind == LlamaCppSpeedStage.kindName }
            XCTAssertEqual(columns.map(\.label), [Self.decode, Self.prefill], target)
            for c in columns {
                XCTAssertEqual(c.parameters["llamaCpp"], .string(LlamaCppBuild.pinnedSource))
                XCTAssertEqual(c.files, [:], "a build's path or bytes would make the key depend on the machine")
            }
            // One stage per row serves both columns, and the plan is the same whatever the environment names.
            let plan = try Planner(root: Fixtures.root).plan([m])
            XCTAssertEqual(plan.stages.filter { $0.kind == LlamaCppSpeedStage.kindName }.count, m.rows.count, target)
            let elsewhere = try withLlamaBench("/elsewhere/llama-bench") { try Planner(root: Fixtures.root).plan([m]) }
            XCTAssertEqual(elsewhere.stages.map(\.key), plan.stages.map(\.key), target)
        }
        var other = try XCTUnwrap(try Catalog.manifests("l4q-figure1", profile: .default).first)
        for c in other.evaluations.indices where other.evaluations[c].kind == LlamaCppSpeedStage.kindName {
            other.evaluations[c].parameters["llamaCpp"] = "llama-cpp-python==0.3.1"
        }
        XCTAssertThrowsError(try Planner(root: Fixtures.root).plan([other])) { error in
            XCTAssert("\(error)".contains("llama.cpp is built from \(LlamaCppBuild.pinnedSource) only"), "\(error)")
        }
    }

    /// The pin and the default path are written twice, in the Makefile (which downloads and builds)
    /// and in `LlamaCppBuild` (which keys and finds): make itself says they agree.
    func testTheMakefileBuildsThePinnedSourceWhereTheStageLooks() throws {
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        make.arguments = ["make", "-s", "--no-print-directory", "--eval",
                          "qaft-pin: ; @echo '$(LLAMA_CPP_SDIST) sha256:$(LLAMA_CPP_SHA256)'; echo '$(LLAMA_BENCH)'", "qaft-pin"]
        make.currentDirectoryURL = Fixtures.root
        // A `make test` run's overrides (e.g. LLAMA_CPP_BUILD=...) would reach the child through these.
        make.environment = ProcessInfo.processInfo.environment.filter { !["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LLAMA_CPP_BUILD"].contains($0.key) }
        let out = Pipe()
        make.standardOutput = out
        try make.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        make.waitUntilExit()
        XCTAssertEqual(make.terminationStatus, 0)
        XCTAssertEqual(text, LlamaCppBuild.pinnedSource + "\n" + LlamaCppBuild.defaultBench + "\n")
    }

    func testLlamaBenchIsTheVariablesOrTheDefaultPath() throws {
        XCTAssertEqual(try LlamaCppBuild.llamaBench(for: "s", environment: ["QAFT_LLAMA_BENCH": "/bin/true"]).path, "/bin/true")
        XCTAssertThrowsError(try LlamaCppBuild.llamaBench(for: "s", environment: ["QAFT_LLAMA_BENCH": "/no/llama-bench"])) {
            XCTAssertEqual($0 as? PipelineError, .stageFailed(stage: "s", reason: "no llama-bench: QAFT_LLAMA_BENCH names /no/llama-bench is not an executable "
                                                                     + "(`make llama-cpp` builds it from \(LlamaCppBuild.pinnedSource))"))
        }
        // Unset (or empty): the Makefile's build tree, relative to the working directory.
        let built = FileManager.default.isExecutableFile(atPath: LlamaCppBuild.defaultBench)
        for environment in [[:], ["QAFT_LLAMA_BENCH": ""]] {
            if built {
                XCTAssertEqual(try LlamaCppBuild.llamaBench(for: "s", environment: environment), URL(fileURLWithPath: LlamaCppBuild.defaultBench))
            } else {
                XCTAssertThrowsError(try LlamaCppBuild.llamaBench(for: "s", environment: environment)) {
                    XCTAssert("\($0)".contains("QAFT_LLAMA_BENCH is not set and \(LlamaCppBuild.defaultBench) is not an executable"), "\($0)")
                }
            }
        }
    }

    /// With a real llama-bench (`$QAFT_LLAMA_BENCH` or the Makefile's; skipped without one): SmolLM2's RTN w4 row is
    /// measured and drawn beside qaft's own speed; stories260K's LoRA row, exported without the
    /// tokenizer llama.cpp needs, is empty with that reason.
    func testARealBuildMeasuresTheExportedRow() throws {
        do { _ = try LlamaCppBuild.llamaBench(for: "test") } catch { throw XCTSkip("\(error)") }
        _ = try Fixtures.smolLM2()
        let dir = try Fixtures.temporaryDirectory()
        let data = try OneStageCommandsTests.trainingText(in: dir)
        let (csv, scatter, script, cells, cache) = try run(manifest(rows: ["RTN w4"], data: data, smolLM2: true), in: dir)
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

        let tiny = try run(manifest(rows: ["LoRA"], data: data), in: dir.appendingPathComponent("tiny"))
        XCTAssert(tiny.csv.contains(" — not measured: not exportable to llama.cpp: cannot export to GGUF: the model carries no GGUF tokenizer"), tiny.csv)
    }
}
