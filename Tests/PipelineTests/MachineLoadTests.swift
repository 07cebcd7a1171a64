import Foundation
@testable import Pipeline
import XCTest

final class MachineLoadTests: XCTestCase {
    /// Others' share = (machine busy − own) / machine total, over the interval, clamped to 0 … 1.
    func testSharesArithmetic() {
        let start = MachineLoad(busyTicks: 1_000, totalTicks: 4_000, ownTicks: 300)
        XCTAssertEqual(MachineLoad(busyTicks: 1_150, totalTicks: 4_200, ownTicks: 400).othersShare(since: start), 0.25)
        // All the busy time was ours: nobody else ran.
        XCTAssertEqual(MachineLoad(busyTicks: 1_200, totalTicks: 4_200, ownTicks: 500).othersShare(since: start), 0)
        XCTAssertEqual(start.othersShare(since: start), 0, "no time passed")
    }

    /// A process spinning beside us shows up as others' load; this process's own waiting does not.
    func testASpinningNeighbourIsOthersLoad() throws {
        let spinner = Process()
        spinner.executableURL = URL(fileURLWithPath: "/bin/sh")
        spinner.arguments = ["-c", "while :; do :; done"]
        try spinner.run()
        defer { spinner.terminate(); spinner.waitUntilExit() }
        let start = try XCTUnwrap(MachineLoad.now())
        Thread.sleep(forTimeInterval: 1.5)
        // Read before the spinner is reaped: a waited-for child's time becomes this process's own.
        let share = try XCTUnwrap(MachineLoad.now()).othersShare(since: start)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertGreaterThan(share, 0.6 / cores, "one spinning process on \(cores) cores")
    }

    func testDoubtNamesWhyATimingCannotBeTrusted() {
        XCTAssertNil(MachineLoad.doubt("perplexity", in: ["perplexity": 30]), "not a timing")
        XCTAssertNil(MachineLoad.doubt("stepSeconds", in: [:]), "not measured")
        XCTAssertNil(MachineLoad.doubt("stepSeconds", in: ["stepSeconds": 2, "stepSeconds_otherLoad": 0.01]))
        XCTAssertEqual(MachineLoad.doubt("stepSeconds", in: ["stepSeconds": 2, "stepSeconds_otherLoad": 0.43]),
                       "timed beside other work: other processes took 43 % of the cores")
        XCTAssertEqual(MachineLoad.doubt("throughputBatch8", in: ["throughputBatch8": 90]),
                       "timed before qaft recorded the machine's load (rerun with --retime)")
        XCTAssertEqual(MachineLoad.doubt("trainSeconds", in: ["trainSeconds": 60, "trainSeconds_otherLoad": 0, "resumedAtStep": 12]),
                       "resumed from a checkpoint at step 12: the time covers only the steps after it")
        var metrics = ["trainSeconds": 60.0, "perplexity": 30]
        MachineLoad.record(since: MachineLoad.now(), for: ["trainSeconds", "stepSeconds"], in: &metrics)
        XCTAssertEqual(Set(metrics.keys), ["trainSeconds", "trainSeconds_otherLoad", "perplexity"], "only timings measured get a load")
    }
}
