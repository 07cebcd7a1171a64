import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// Concurrent runs on one cache: no corruption, no stage computed twice, dead claims taken over.
final class ConcurrencyTests: XCTestCase {
    func testTwoConcurrentRunsComputeEachStageOnce() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache")
        let runs = try (0..<2).map { i in
            try QaftProcess.start(QaftProcess.reproduceTiny(cache: cache, output: dir.appendingPathComponent("out\(i)")),
                                  log: dir.appendingPathComponent("run\(i).log"))
        }
        for (i, p) in runs.enumerated() {
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, QaftProcess.text(dir.appendingPathComponent("run\(i).log")))
        }
        let c = try Cache(root: cache)
        let plan = try Planner(root: Fixtures.root).plan([TinyTable.manifest(.tiny)])
        let counts = Dictionary(grouping: try c.computations(), by: \.key).mapValues(\.count)
        XCTAssertEqual(Set(counts.keys), Set(plan.stages.map(\.key)))
        XCTAssertEqual(Set(counts.values), [1], "some stage was computed twice: \(counts)")
        XCTAssertEqual(Set(try c.computations().map(\.pid)).count <= 2, true)
        XCTAssertEqual(try c.check().map(\.message), [])
        let csv = "Results/tinytable-tiny.csv"
        XCTAssertEqual(QaftProcess.text(dir.appendingPathComponent("out0/" + csv)), QaftProcess.text(dir.appendingPathComponent("out1/" + csv)))
    }

    func testClaimOfADeadProcessIsTakenOver() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let plan = try Planner(root: Fixtures.root).plan([TinyTable.manifest(.tiny)])
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let deadPid = dead.processIdentifier
        try cache.insertClaim(plan.stages[0].key, owner: ClaimOwner(pid: deadPid, host: ClaimOwner.hostName), heartbeat: Date())
        var tookOver: [Int32] = []
        let summary = try Runner(cache: cache) { if case .tookOver(_, let owner) = $0 { tookOver.append(owner.pid) } }.run(plan)
        XCTAssertEqual(tookOver, [deadPid])
        XCTAssertEqual(summary.computed.count, plan.stages.count)
        XCTAssertEqual(try cache.claims(), [:])
    }

    func testLiveClaimIsWaitedFor() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let plan = try Planner(root: Fixtures.root).plan([TinyTable.manifest(.tiny)])
        // Our parent (the test runner's parent shell, alive for the whole test) pretends to compute the first stage.
        let holder = getppid()
        let owner = ClaimOwner(pid: holder, host: ClaimOwner.hostName)
        try cache.insertClaim(plan.stages[0].key, owner: owner, heartbeat: Date())
        XCTAssertEqual(try cache.claim(plan.stages[0].key), .heldBy(owner))
        XCTAssertEqual(try cache.claim(plan.stages[1].key), .acquired(tookOverFrom: nil))
        try cache.release(plan.stages[1].key)
    }
}
