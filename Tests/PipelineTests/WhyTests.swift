import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// `qaft why` names the key component that changed since a target's last run.
final class WhyTests: XCTestCase {
    func testWhyNamesTheEditedParameter() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let planner = Planner(root: Fixtures.root)
        var m = TinyTable.manifest(.tiny)
        try Runner(cache: cache).run(try planner.plan([m]))
        XCTAssertEqual(try PlanInspection(cache: cache, plan: try planner.plan([m])).why(target: "tinytable").count, 0)

        m.evaluations[0].parameters["window"] = 48
        let diffs = try PlanInspection(cache: cache, plan: try planner.plan([m])).why(target: "tinytable")
        XCTAssertEqual(diffs.map(\.label), ["tinytable/stories260K fp32/ppl 32-token windows", "tinytable/report"])
        XCTAssertEqual(diffs[0].changes, [KeyComponents.Change(component: "parameter.window", old: "32", new: "48")])
        XCTAssertEqual(diffs[1].upstream, ["tinytable/stories260K fp32/ppl 32-token windows"])
        XCTAssertEqual(diffs[1].changes, [], "the report only inherits the change")
    }

    func testWhyFromTheCommandLine() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache")
        XCTAssertEqual(try QaftProcess.run(QaftProcess.reproduceTiny(cache: cache, output: dir), log: dir.appendingPathComponent("run.log")), 0)
        let log = dir.appendingPathComponent("why.log")
        XCTAssertEqual(try QaftProcess.run(["why", "tinytable", "--profile", "tiny", "--cache", cache.path], log: log), 0)
        XCTAssertEqual(QaftProcess.text(log), "nothing changed since the last run of tinytable (tiny profile)\n")
        // A changed data file is named as such (a copy of the text with one byte changed).
        let planner = Planner(root: Fixtures.root)
        var m = TinyTable.manifest(.tiny)
        let edited = dir.appendingPathComponent("edited.txt")
        var text = try Data(contentsOf: Fixtures.url(m.evaluations[0].files["text"]!))
        text[0] = UInt8(ascii: "O")
        try text.write(to: edited)
        m.evaluations[0].files["text"] = edited.path
        let diffs = try PlanInspection(cache: try Cache(root: cache), plan: try planner.plan([m])).why(target: "tinytable")
        XCTAssertEqual(diffs.first?.changes?.map(\.component), ["file.text"])
    }
}
