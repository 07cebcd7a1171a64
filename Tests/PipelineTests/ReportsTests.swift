import Foundation
@testable import Reports
import XCTest

final class ReportsTests: XCTestCase {
    func testCSVQuotesAndBothShapes() {
        let rows = [
            ResultRow(table: "t", profile: "tiny", row: "L4Q, w3", column: "ppl", metric: "perplexity", protocolName: "say \"hi\"",
                      value: 2.5, stderr: 0.1, paperModel: "LLaMA-1 7B", paperValue: 61.2, paperSource: "L4Q Table 3"),
            ResultRow(table: "t", profile: "tiny", row: "fp", column: "ppl", metric: "perplexity", protocolName: "p", value: nil, stderr: nil),
        ]
        XCTAssertEqual(CSVTable.long(rows).split(separator: "\n", omittingEmptySubsequences: false), [
            "table,profile,row,column,metric,protocol,value,stderr,paper_model,paper_value,paper_source",
            #"t,tiny,"L4Q, w3",ppl,perplexity,"say ""hi""",2.5,0.1,LLaMA-1 7B,61.2,L4Q Table 3"#,
            "t,tiny,fp,ppl,perplexity,p,,,,,",
            "",
        ])
        XCTAssertEqual(CSVTable.wide(rows).split(separator: "\n", omittingEmptySubsequences: false), [
            "table,profile,row,ppl,ppl stderr,ppl protocol,ppl paper",
            #"t,tiny,"L4Q, w3",2.5,0.1,"say ""hi""",61.2"#,
            "t,tiny,fp,,,p,",
            "",
        ])
    }

    func testParetoFrontFollowsEachAxisDirection() {
        let points = [ParetoScatter.Point(name: "fast, poor", x: 100, y: 50), .init(name: "slow, good", x: 20, y: 10),
                      .init(name: "dominated", x: 50, y: 60), .init(name: "middle", x: 60, y: 30), .init(name: "tie", x: 60, y: 30)]
        // x: higher is better (speed); y: lower is better (perplexity).
        let s = ParetoScatter(title: "t", xLabel: "speed", yLabel: "ppl", xHigherIsBetter: true, yHigherIsBetter: false, points: points)
        XCTAssertEqual(s.front, [true, true, false, true, true])
        let flipped = ParetoScatter(title: "t", xLabel: "speed", yLabel: "acc", xHigherIsBetter: true, yHigherIsBetter: true, points: points)
        XCTAssertEqual(flipped.front, [true, false, true, false, false])
        XCTAssertEqual(s.csv().split(separator: "\n").first, "row,speed,ppl,pareto_front")
        XCTAssert(s.csv().contains("\"fast, poor\",100.0,50.0,1\n"), s.csv())
        let script = s.script(terminal: "png", output: "f.png")
        XCTAssert(script.contains("$front << EOD\n20.0 10.0\n60.0 30.0\n60.0 30.0\n100.0 50.0\nEOD"), script)
    }

    func testTextIsPrintedAsWrittenNotAsMarkup() throws {
        // gnuplot's text terminal, enhanced as png and pngcairo are by default, shows what a PNG would:
        // in enhanced mode "L4Q_init" prints as "L4Qinit".
        let lines = GnuplotLines(title: "t", xLabel: "a^2", yLabel: "y", series: [.init(name: "L4Q_init", x: [0, 1], y: [2, 1])])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-gnuplot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try lines.script(terminal: "dumb enhanced", output: "f.txt").write(to: dir.appendingPathComponent("f.gp"), atomically: true, encoding: .utf8)
        _ = try GnuplotLines.run("gnuplot", ["f.gp"], in: dir)  // throws with gnuplot's output unless it exits 0
        let text = try String(contentsOf: dir.appendingPathComponent("f.txt"), encoding: .utf8)
        XCTAssert(text.contains("L4Q_init") && text.contains("a^2"), "gnuplot read the labels as markup")
    }

    func testCompanionSeriesSitsBesideItsPointsOutsideTheFront() throws {
        let points = [ParetoScatter.Point(name: "a", x: 100, y: 50), .init(name: "b", x: 20, y: 10), .init(name: "c", x: 50, y: 60)]
        let companion = ParetoScatter.Companion(name: "llama.cpp", firstName: "qaft", x: ["a": 80, "c": 500])
        let s = ParetoScatter(title: "t", xLabel: "speed", yLabel: "ppl", xHigherIsBetter: true, yHigherIsBetter: false, points: points,
                              companion: companion)
        // c's companion beats every point, yet the front is the first series' alone.
        XCTAssertEqual(s.front, [true, true, false])
        XCTAssertEqual(s.csv().split(separator: "\n"), ["row,speed,ppl,pareto_front,speed (llama.cpp)", "a,100.0,50.0,1,80.0", "b,20.0,10.0,1,", "c,50.0,60.0,0,500.0"])
        let script = s.script(terminal: "png", output: "f.png")
        XCTAssert(script.contains("$companion << EOD\n100.0 50.0 80.0\n50.0 60.0 500.0\nEOD"), script)
        XCTAssert(script.contains("$points using 1:2 with points pt 7 ps 1.5 title \"qaft\""), script)
        XCTAssert(script.contains("$companion using 3:2 with points pt 5 ps 1.3 title \"llama.cpp\""), script)
        // Without a single companion value the figure is the plain one (gnuplot fails on an empty block).
        var none = s
        none.companion = ParetoScatter.Companion(name: "llama.cpp", firstName: "qaft", x: [:])
        XCTAssertFalse(none.script(terminal: "png", output: "f.png").contains("$companion"))
        XCTAssertEqual(none.csv().split(separator: "\n")[2], "b,20.0,10.0,1,")
    }

    func testSeriesOfNestedItemSizesArePairedBySpan() throws {
        // 64-token items: 9 of them; 256-token items: 2. Each long item pairs with the mean of 4 short ones.
        let short = (0..<9).map(Double.init), long = [10.0, 20.0]
        let (a, b) = try PairedSeries.align(short, size: 64, long, size: 256)
        XCTAssertEqual(a, [1.5, 5.5])
        XCTAssertEqual(b, long)
        let (c, d) = try PairedSeries.align(long, size: 256, short, size: 64)
        XCTAssertEqual(c, long)
        XCTAssertEqual(d, [1.5, 5.5])
        XCTAssertThrowsError(try PairedSeries.align(short, size: 64, long, size: 96))
    }

    struct SignTest: PairedTest {
        var name: String { "always p=0.01" }
        func compare(_ a: [Double], _ b: [Double]) throws -> (delta: Double, pValue: Double) { (0, 0.01) }
    }

    func testClaimVerdicts() throws {
        let claim = ClaimCheck(id: "c", statement: "A beats B", source: "T1", better: "A", worse: "B", lowerIsBetter: true)
        let low = CellScores(value: 2, items: [1, 2, 3], itemSize: 1), high = CellScores(value: 3, items: [2, 3, 4], itemSize: 1)
        XCTAssertEqual(try claim.evaluate(better: low, worse: high, test: SignTest()).verdict, .holds)
        XCTAssertEqual(try claim.evaluate(better: high, worse: low, test: SignTest()).verdict, .fails)
        XCTAssertEqual(try claim.evaluate(better: nil, worse: low, test: SignTest()).verdict, .notMeasured)
        // Equal on every item (0 of 3 solved by both): no difference, so no verdict either way,
        // even from a test that would call any difference significant.
        let none = CellScores(value: 0, items: [0, 0, 0], itemSize: 1)
        let tie = try claim.evaluate(better: none, worse: none, test: SignTest())
        XCTAssertEqual(tie.verdict, .notJudged)
        XCTAssertNil(tie.pValue)
        let md = MarkdownSummary.render(title: "t", profile: "tiny", notes: [], rows: [], claims: [tie])
        XCTAssert(md.contains("A 0 vs B 0: **not judged** (the two cells are equal on all 3 paired items: no difference to test)."), md)
    }

    func testRatioClaimVerdictsAndSummary() {
        let claim = ClaimCheck(id: "mem", statement: "A needs about B's memory", source: "T1", better: "A", worse: "B", lowerIsBetter: true)
        let within = claim.evaluateRatio(better: 1.38, worse: 1.32, atMost: 1.1, atLeast: nil)
        XCTAssertEqual(within.verdict, .holds)
        XCTAssertEqual(within.ratio!, 1.38 / 1.32, accuracy: 1e-12)
        XCTAssertEqual(claim.evaluateRatio(better: 1.5, worse: 1.32, atMost: 1.1, atLeast: nil).verdict, .fails)
        XCTAssertEqual(claim.evaluateRatio(better: 1.5, worse: 1.32, atMost: 1.2, atLeast: 1.0).verdict, .holds)
        XCTAssertEqual(claim.evaluateRatio(better: 1.2, worse: 1.32, atMost: 1.2, atLeast: 1.0).verdict, .fails)
        XCTAssertEqual(claim.evaluateRatio(better: nil, worse: 1.32, atMost: 1.1, atLeast: nil).verdict, .notMeasured)
        let md = MarkdownSummary.render(title: "t", profile: "tiny", notes: [], rows: [], claims: [within])
        XCTAssert(md.contains("ratio 1.05 (claimed ≤ 1.1): **holds**"), md)
        // A value in doubt (a time taken beside other work) is shown but carries no verdict.
        let doubted = claim.evaluateRatio(better: 1.38, worse: 1.32, atMost: 1.1, atLeast: nil, doubt: "B: timed beside other work")
        XCTAssertEqual(doubted.verdict, .notJudged)
        let doubtedMD = MarkdownSummary.render(title: "t", profile: "tiny", notes: [], rows: [], claims: [doubted])
        XCTAssert(doubtedMD.contains("ratio 1.05 (claimed ≤ 1.1): **not judged** (B: timed beside other work)."), doubtedMD)
    }
}
