import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// SIGKILLs `qaft reproduce` children at random moments, then lets one finish: its CSV must equal
/// an uninterrupted run's and the cache must pass the integrity check.
final class KillResumeTests: XCTestCase {
    func testRandomKillsLeaveTheSameResultAndASoundCache() throws {
        let dir = try Fixtures.temporaryDirectory()
        let referenceOut = dir.appendingPathComponent("reference")
        let t0 = Date()
        XCTAssertEqual(try QaftProcess.run(QaftProcess.reproduceTiny(cache: dir.appendingPathComponent("reference-cache"), output: referenceOut),
                                           log: dir.appendingPathComponent("reference.log")), 0)
        let duration = Date().timeIntervalSince(t0)

        let cache = dir.appendingPathComponent("cache"), out = dir.appendingPathComponent("killed")
        var generator = SystemRandomNumberGenerator()
        // Kill moments are uniform over the first 80 % of an uninterrupted run (startup, a stage, a
        // commit, the report); when a run ends first (the cache fills up), the window halves.
        var kills = 0, bound = duration * 0.8
        for attempt in 0..<30 where kills < 6 {
            let p = try QaftProcess.start(QaftProcess.reproduceTiny(cache: cache, output: out), log: dir.appendingPathComponent("run\(attempt).log"))
            Thread.sleep(forTimeInterval: Double.random(in: 0...bound, using: &generator))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                kills += 1
            } else {
                bound /= 2
            }
            p.waitUntilExit()
        }
        XCTAssertEqual(try QaftProcess.run(QaftProcess.reproduceTiny(cache: cache, output: out), log: dir.appendingPathComponent("final.log")), 0)
        XCTAssertEqual(kills, 6, "too few runs were killed to test anything")
        for f in ["Results/tinytable-tiny.csv", "Results/tinytable-tiny-wide.csv", "Results/tinytable-tiny.md"] {
            XCTAssertEqual(QaftProcess.text(out.appendingPathComponent(f)), QaftProcess.text(referenceOut.appendingPathComponent(f)), f)
        }
        XCTAssertEqual(try QaftProcess.run(["check", "--cache", cache.path], log: dir.appendingPathComponent("check.log")), 0,
                       QaftProcess.text(dir.appendingPathComponent("check.log")))
        let c = try Cache(root: cache)
        XCTAssertEqual(try c.check().filter(\.isCorruption).map(\.message), [])
        // Leftovers of killed runs are collectable, and collecting them keeps the cache sound.
        _ = try c.collectGarbage()
        XCTAssertEqual(try c.check().map(\.message), [])
        let resumed = try c.computations().filter { $0.resumedFrom > 0 }.count
        print("kill test: \(kills) kills over runs of \(String(format: "%.2f", duration)) s; \(resumed) computations resumed from a checkpoint")
    }
}
