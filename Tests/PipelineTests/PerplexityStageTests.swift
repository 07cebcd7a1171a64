import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The perplexity stage against an independent NumPy implementation of the same protocol
/// (Tests/Fixtures/pipeline/tiny_perplexity.py, run once; its output is committed beside it).
final class PerplexityStageTests: XCTestCase {
    struct Reference: Decodable {
        let prefixBytes: Int
        let window: Int
        let tokens: Int
        let windowNLL: [Double]
        let perplexity: Double
    }

    func testMatchesTheNumPyReference() throws {
        let ref = try Fixtures.json("Tests/Fixtures/pipeline/tiny_perplexity.json", as: Reference.self)
        let dir = try Fixtures.temporaryDirectory()
        let text = dir.appendingPathComponent("prefix.txt")
        try Data(contentsOf: Fixtures.url("Experiments/Data/tinystories/tinystories_valid_excerpt.txt")).prefix(ref.prefixBytes).write(to: text)
        var m = TinyTable.manifest(.tiny)
        m.evaluations = [Base.settings(.tiny).perplexity("ppl", window: ref.window)]
        m.evaluations[0].files["text"] = text.path
        m.claims = []
        m.figureColumns = []
        let plan = try Planner(root: Fixtures.root).plan([m])
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        try Runner(cache: cache).run(plan)
        let stage = try XCTUnwrap(plan.stages.first { $0.kind == PerplexityStage.kindName })
        let out = try XCTUnwrap(try cache.result(stage.key)).output
        XCTAssertEqual(out.metrics["tokens"], Double(ref.tokens))
        let nll = try XCTUnwrap(out.series["perplexity"])
        XCTAssertEqual(nll.count, ref.windowNLL.count)
        for (a, b) in zip(nll, ref.windowNLL) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertEqual(try XCTUnwrap(out.metrics["perplexity"]), ref.perplexity, accuracy: 1e-4 * ref.perplexity)
    }

    func testWikiTextRowsJoinAsInTheGPTQProtocol() throws {
        // SOURCES.md: "\n\n".join(rows) of the 4,358 WikiText-2 test rows is 1,296,370 bytes.
        let text = try PerplexityStage.read(Fixtures.url("Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl"), format: .jsonlText)
        XCTAssertEqual(text.utf8.count, 1_296_370)
        XCTAssert(text.hasPrefix("\n\n = Robert Boulter = \n"))
    }
}
