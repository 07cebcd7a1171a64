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
        XCTAssertEqual(files, ["Figures/tinytable-tiny.gp", "Figures/tinytable-tiny.png", "Results/tinytable-tiny-wide.csv",
                               "Results/tinytable-tiny.csv", "Results/tinytable-tiny.md"])
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
