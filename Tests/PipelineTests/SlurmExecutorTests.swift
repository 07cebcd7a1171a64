import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The Slurm executor on a real two-node Slurm 22.05 cluster started on this host
/// (`.ci/slurm-cluster`; nodes n1 and n2 are both this machine, so a SQLite cache is shared by
/// them as a cluster's PostgreSQL would be): the tiny tables computed as one job per stage equal the
/// local run, jobs spread over both nodes, a resubmission computes nothing, a failing stage ends
/// the run naming it and its log while Slurm cancels its dependents, `qaft cancel` empties the queue.
final class SlurmExecutorTests: XCTestCase {
    nonisolated(unsafe) static var cluster: SlurmCluster?

    override class func setUp() {
        super.setUp()
        cluster = try? SlurmCluster()
    }

    override class func tearDown() {
        cluster?.stop()
        super.tearDown()
    }

    func requireCluster() throws -> SlurmCluster {
        try XCTUnwrap(Self.cluster, "the Slurm test cluster did not start: run `.ci/slurm-cluster start /tmp/x` to see why (make test installs munge and slurm)")
    }

    /// Rows of a long-format CSV without the machine-dependent measurements (time, memory, speed).
    func measuredRowsRemoved(_ url: URL) -> [Substring] {
        QaftProcess.text(url).split(separator: "\n").filter { line in
            !["GB,", "Seconds,", "PerSecond,"].contains { line.contains($0) }
        }
    }

    func testTinyTablesThroughSlurmEqualTheLocalRunAndSpreadOverBothNodes() throws {
        let cluster = try requireCluster()
        let dir = try Fixtures.temporaryDirectory()
        let logs = cluster.directory.appendingPathComponent("logs-tiny")
        for target in ["tinytable", "tinymethods"] {
            let slurmArgs = ["reproduce", target, "--profile", "tiny", "--cache", dir.appendingPathComponent("slurm-cache").path,
                             "--output", dir.appendingPathComponent("slurm").path, "--executor", "slurm", "--logs", logs.path]
            let log = dir.appendingPathComponent("\(target)-slurm.log")
            XCTAssertEqual(try QaftProcess.run(slurmArgs, log: log), 0, QaftProcess.text(log))
            XCTAssertEqual(try QaftProcess.run(["reproduce", target, "--profile", "tiny", "--cache", dir.appendingPathComponent("local-cache").path,
                                                "--output", dir.appendingPathComponent("local").path, "--quiet"], log: log), 0, QaftProcess.text(log))
            for csv in ["Results/\(target)-tiny.csv"] + (target == "tinymethods" ? ["Results/tinymethods-tiny-loss.csv"] : []) {
                let a = measuredRowsRemoved(dir.appendingPathComponent("slurm/" + csv)), b = measuredRowsRemoved(dir.appendingPathComponent("local/" + csv))
                XCTAssertGreaterThan(a.count, 2, csv)
                XCTAssertEqual(a, b, csv)
            }
            // A second submission finds every stage cached and submits nothing.
            let again = dir.appendingPathComponent("\(target)-again.log")
            XCTAssertEqual(try QaftProcess.run(slurmArgs, log: again), 0, QaftProcess.text(again))
            XCTAssert(QaftProcess.text(again).contains("slurm: 0 jobs submitted, 0 already queued"), QaftProcess.text(again))
        }
        let nodes = try FileManager.default.contentsOfDirectory(at: logs, includingPropertiesForKeys: nil).compactMap { url in
            QaftProcess.text(url).split(separator: "\n").first { $0.contains(" on node ") }.map { String($0.split(separator: " ")[$0.split(separator: " ").count - 3]) }
        }
        XCTAssertEqual(Set(nodes), ["n1", "n2"], "jobs ran on \(nodes)")
    }

    /// One stage's job fails: the wait ends naming that stage and its log, the jobs that depend on
    /// it are cancelled by Slurm, and the cache holds no result for them.
    func testAFailingStageEndsTheRunAndItsDependentsAreCancelled() throws {
        let cluster = try requireCluster()
        let dir = try Fixtures.temporaryDirectory()
        let plan = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinytable", profile: .tiny))
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let failing = try XCTUnwrap(plan.stages.first { $0.kind == LoadModelStage.kindName })
        let settings = SlurmSettings(logs: cluster.directory.appendingPathComponent("logs-fail"))
        let executor = SlurmExecutor(cache: cache, settings: settings) { st in
            st.key == failing.key ? "echo failing on purpose; exit 3" : "sleep 600"
        }
        executor.pollInterval = 0.2
        let jobs = try executor.submit(plan)
        XCTAssertEqual(jobs.count, plan.stages.count)
        XCTAssertThrowsError(try executor.wait(plan, jobs: jobs)) { error in
            let message = "\(error)"
            XCTAssert(message.contains(failing.label) && message.contains(settings.log(failing.key, job: jobs[failing.key]!).path), message)
            XCTAssertEqual(QaftProcess.text(settings.log(failing.key, job: jobs[failing.key]!)), "failing on purpose\n")
        }
        // Every other stage reads the model: Slurm removes them all from the queue.
        let deadline = Date().addingTimeInterval(20)
        while try !Slurm.queuedJobs().isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertEqual(try Slurm.queuedJobs().count, 0)
        XCTAssertEqual(try plan.stages.filter { try cache.result($0.key) != nil }.count, 0)
    }

    /// `qaft cancel` cancels a target's queued jobs (here held in the queue by a sleeping first job).
    func testCancelRemovesATargetsJobs() throws {
        let cluster = try requireCluster()
        let dir = try Fixtures.temporaryDirectory()
        let plan = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinytable", profile: .tiny))
        let cache = try Cache(root: dir.appendingPathComponent("cache"))
        let executor = SlurmExecutor(cache: cache, settings: SlurmSettings(logs: cluster.directory.appendingPathComponent("logs-cancel"))) { _ in "sleep 600" }
        let jobs = try executor.submit(plan)
        XCTAssertEqual(Set(try Slurm.queuedJobs().keys), Set(jobs.keys))
        let log = dir.appendingPathComponent("cancel.log")
        XCTAssertEqual(try QaftProcess.run(["cancel", "tinytable", "--profile", "tiny", "--cache", dir.appendingPathComponent("cache").path], log: log), 0)
        XCTAssert(QaftProcess.text(log).contains("cancelled \(jobs.count) jobs"), QaftProcess.text(log))
        let deadline = Date().addingTimeInterval(20)
        while try !Slurm.queuedJobs().isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertEqual(try Slurm.queuedJobs().count, 0)
    }
}
