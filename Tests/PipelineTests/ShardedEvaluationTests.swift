import Evaluation
import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// An evaluation split over jobs (`EvaluationSpec.shards`) gives the output of one job: every
/// metric, every item's score, every perplexity window, bit for bit (only the wall seconds differ).
final class ShardedEvaluationTests: XCTestCase {
    /// stories260K scored on two commonsense tasks, 0-shot MMLU (one question per subject) and
    /// perplexity, in batches of 8 requests so every task has several batches to split.
    func manifest(shards: Int) -> Manifest {
        let base = Base.settings(.tiny)
        var m = TinyTable.manifest(.tiny)
        var tasks = base.commonsense()
        tasks.parameters = ["tasks": ["piqa", "arc_easy"], "shots": 0, "perSubtask": 12, "batchSize": 8]
        var mmlu = base.mmlu(shots: 0)
        mmlu.parameters["batchSize"] = 8
        m.evaluations = [tasks, mmlu, base.perplexity("ppl", window: 32)]
        for i in m.evaluations.indices { m.evaluations[i].shards = shards }
        m.claims = []
        m.figureColumns = []
        return m
    }

    func testShardedEvaluationsEqualOneJobBitForBit() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let whole = try Planner(root: Fixtures.root).plan([manifest(shards: 1)])
        let sharded = try Planner(root: Fixtures.root).plan([manifest(shards: 3)])
        try Runner(cache: cache).run(whole)
        let summary = try Runner(cache: cache).run(sharded)

        let parts = sharded.stages.filter { $0.label.contains("/shard-") }
        XCTAssertEqual(parts.count, 9)
        // load-model → evaluation → report; a split evaluation adds its merge to the chain.
        XCTAssertEqual(whole.longestChain, 3)
        XCTAssertEqual(sharded.longestChain, 4)
        XCTAssertEqual(Set(parts.map { String($0.label.split(separator: "/").last!) }), ["shard-1of3", "shard-2of3", "shard-3of3"])
        // The model is shared; every part and merge is computed.
        XCTAssertEqual(summary.computed.count, 9 + 3 + 1)
        let columns = ["CSQA", "MMLU 0-shot", "ppl"]
        for column in columns {
            let label = "tinytable/stories260K fp32/\(column)"
            let one = try XCTUnwrap(try cache.result(XCTUnwrap(whole.stages.first { $0.label == label }).key)).output
            let merged = try XCTUnwrap(try cache.result(XCTUnwrap(sharded.stages.first { $0.label == label }).key)).output
            func timeless(_ m: [String: Double]) -> [String: Double] { m.filter { !$0.key.hasSuffix(".seconds") } }
            XCTAssertEqual(timeless(merged.metrics), timeless(one.metrics), column)
            XCTAssertEqual(merged.series, one.series, column)
            XCTAssertEqual(merged.notes, one.notes, column)
            XCTAssertGreaterThan(one.series.values.first?.count ?? 0, 20, column)
        }
        // Each part computed a share of the work: every task's batches (perplexity's windows) are split.
        for st in parts where st.kind == PerplexityStage.kindName {
            XCTAssertGreaterThan(try XCTUnwrap(try cache.result(st.key)).output.series["perplexity"]?.count ?? 0, 3)
        }
    }
}
