import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The Slurm executor on a real two-node Slurm 22.05 cluster started on this host
/// (`.ci/slurm-cluster`; nodes n1 and n2 are both this machine) with the cache on a real
/// PostgreSQL 15, as a cluster shares it: the tiny tables computed as one job per stage equal the
/// local SQLite run, two submissions at once submit and compute each stage once, a resubmission
/// computes nothing, a fine-tune job cancelled mid-run resumes from its checkpoint, the claim of a
/// job Slurm reports ended on another node is taken over at once, a failing stage ends the run
/// naming it and its log while Slurm cancels its dependents, `qaft cancel` empties the queue.
final class SlurmExecutorTests: XCTestCase {
    nonisolated(unsafe) static var cluster: SlurmCluster?
    private static let postgres = ClassPostgres()

    override class func setUp() {
        super.setUp()
        cluster = try? SlurmCluster()
    }

    override class func tearDown() {
        cluster?.stop()
        postgres.stop()
        super.tearDown()
    }

    func requireCluster() throws -> SlurmCluster {
        try XCTUnwrap(Self.cluster, "the Slurm test cluster did not start: run `.ci/slurm-cluster start /tmp/x` to see why (make test installs munge and slurm)")
    }

    /// A PostgreSQL cache of its own for one test: its URL, the shared artifact folder, a scratch folder.
    private func database(_ name: String = #function) throws -> (url: String, artifacts: URL, dir: URL) {
        let dir = try Fixtures.temporaryDirectory(name)
        return (try Self.postgres.database("slurm" + name), dir.appendingPathComponent("shared"), dir)
    }

    private func openCache(_ db: (url: String, artifacts: URL, dir: URL)) throws -> Cache {
        try Cache(.postgres(try PostgresAddress(url: db.url), artifacts: db.artifacts))
    }

    /// `qaft reproduce target --executor slurm` on the test's PostgreSQL cache.
    private func slurmReproduce(_ target: String, _ db: (url: String, artifacts: URL, dir: URL), output: String, logs: URL) -> [String] {
        ["reproduce", target, "--profile", "tiny", "--cache", db.url, "--artifacts", db.artifacts.path,
         "--output", db.dir.appendingPathComponent(output).path, "--executor", "slurm", "--logs", logs.path]
    }

    /// Starts `target` locally on a SQLite cache of its own into `dir/local`: the reference, run
    /// while the Slurm jobs run (they mostly wait on the scheduler).
    private func startLocalReference(_ target: String, in dir: URL) throws -> Process {
        try QaftProcess.start(["reproduce", target, "--profile", "tiny", "--cache", dir.appendingPathComponent("local-cache").path,
                               "--output", dir.appendingPathComponent("local").path, "--quiet"], log: dir.appendingPathComponent("\(target)-local.log"))
    }

    private func waitForLocalReference(_ p: Process, _ target: String, in dir: URL) {
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, QaftProcess.text(dir.appendingPathComponent("\(target)-local.log")))
    }

    /// The target's CSVs under `dir/output` equal the local reference's, measurements aside.
    private func assertReportsEqualTheLocalRun(_ target: String, _ dir: URL, output: String, file: StaticString = #filePath, line: UInt = #line) {
        for csv in ["Results/\(target)-tiny.csv"] + (target == "tinymethods" ? ["Results/tinymethods-tiny-loss.csv"] : []) {
            let a = measuredRowsRemoved(dir.appendingPathComponent(output + "/" + csv)), b = measuredRowsRemoved(dir.appendingPathComponent("local/" + csv))
            XCTAssertGreaterThan(a.count, 2, csv, file: file, line: line)
            XCTAssertEqual(a, b, "\(output)/\(csv)", file: file, line: line)
        }
    }

    /// Rows of a long-format CSV without the machine-dependent measurements (time, memory, speed).
    func measuredRowsRemoved(_ url: URL) -> [Substring] {
        QaftProcess.text(url).split(separator: "\n").filter { line in
            !["GB,", "Seconds,", "PerSecond,"].contains { line.contains($0) }
        }
    }

    /// The (submitted, already queued, already cached) counts a Slurm submission reported in its log.
    private func submissionCounts(_ log: String) -> (submitted: Int, queued: Int, cached: Int)? {
        guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("slurm: ") && $0.contains(" jobs submitted, ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return numbers.count == 3 ? (numbers[0], numbers[1], numbers[2]) : nil
    }

    /// Two `qaft reproduce tinytable --executor slurm` at once on one cache: each stage is
    /// submitted once (the later submission depends on the earlier one's jobs) and computed once,
    /// both give the local SQLite run's CSVs, and a third submission finds everything cached.
    func testTwoSubmissionsAtOnceSubmitAndComputeEachStageOnceAndEqualTheLocalRun() throws {
        let cluster = try requireCluster()
        let db = try database()
        let logs = cluster.directory.appendingPathComponent("logs-twice")
        let runs = try (0..<2).map { i in
            try QaftProcess.start(slurmReproduce("tinytable", db, output: "slurm\(i)", logs: logs), log: db.dir.appendingPathComponent("submit\(i).log"))
        }
        waitForLocalReference(try startLocalReference("tinytable", in: db.dir), "tinytable", in: db.dir)
        let stages = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinytable", profile: .tiny)).stages
        var submitted = 0
        for (i, p) in runs.enumerated() {
            p.waitUntilExit()
            let text = QaftProcess.text(db.dir.appendingPathComponent("submit\(i).log"))
            XCTAssertEqual(p.terminationStatus, 0, text)
            let counts = try XCTUnwrap(submissionCounts(text), text)
            // The later submission may plan after the earlier one's first jobs have finished.
            XCTAssertEqual(counts.submitted + counts.queued + counts.cached, stages.count, text)
            submitted += counts.submitted
            assertReportsEqualTheLocalRun("tinytable", db.dir, output: "slurm\(i)")
        }
        XCTAssertEqual(submitted, stages.count, "the two submissions together submitted \(submitted) jobs for \(stages.count) stages")
        let counts = Dictionary(grouping: try openCache(db).computations(), by: \.key).mapValues(\.count)
        XCTAssertEqual(Set(counts.keys), Set(stages.map(\.key)))
        XCTAssertEqual(counts.filter { $0.value != 1 }.count, 0, "stages computed more than once: \(counts.filter { $0.value != 1 })")
        // A further submission finds every stage cached and submits nothing.
        let again = db.dir.appendingPathComponent("again.log")
        XCTAssertEqual(try QaftProcess.run(slurmReproduce("tinytable", db, output: "slurm0", logs: logs), log: again), 0, QaftProcess.text(again))
        XCTAssert(QaftProcess.text(again).contains("slurm: 0 jobs submitted, 0 already queued"), QaftProcess.text(again))
    }

    /// tinymethods through Slurm, checkpointing after every training step: the LoRA fine-tune's
    /// process is frozen (SIGSTOP) as soon as its trainer checkpoint exists, so it is surely
    /// mid-run, and its job is `scancel`led; Slurm cancels the jobs depending on it. The
    /// resubmission takes over the dead job's claim at once and resumes from the checkpoint, every
    /// other stage is computed once, the CSVs equal the local run's, and the jobs ran on both nodes.
    func testAFineTuneJobCancelledMidRunResumesFromItsCheckpoint() throws {
        let cluster = try requireCluster()
        let db = try database()
        let logs = cluster.directory.appendingPathComponent("logs-resume")
        let reference = try startLocalReference("tinymethods", in: db.dir)
        let args = slurmReproduce("tinymethods", db, output: "slurm", logs: logs)
        // The tiny fine-tunes train for a fraction of a second, far below the default 30 s interval.
        let detached = db.dir.appendingPathComponent("detached.log")
        XCTAssertEqual(try QaftProcess.run(args + ["--detach"], log: detached, environment: ["QAFT_CHECKPOINT_SECONDS": "0"]), 0,
                       QaftProcess.text(detached))
        let cache = try openCache(db)
        let plan = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinymethods", profile: .tiny))
        let finetune = try XCTUnwrap(plan.stages.first { $0.kind == "finetune.lora" })
        let trainerState = cache.checkpoint(for: finetune.key).url.appendingPathComponent("trainer.ckpt")
        // The job's process claims the stage before it trains (its pid is this host's: both nodes are).
        let owner = try waitFor("claim of \(finetune.label)", seconds: 120) { try cache.claims()[finetune.key]?.owner }
        XCTAssertFalse(owner.job.isEmpty, "\(owner)")
        _ = try waitFor("trainer checkpoint of \(finetune.label)", seconds: 60, poll: 0.001) { () throws -> Bool? in
            if FileManager.default.fileExists(atPath: trainerState.path) { return true }
            guard kill(owner.pid, 0) == 0 else { throw CocoaError(.userCancelled, userInfo: [NSLocalizedDescriptionKey: "\(owner) ended before its checkpoint was seen"]) }
            return nil
        }
        XCTAssertEqual(kill(owner.pid, SIGSTOP), 0, "\(owner) ended before it could be stopped")
        XCTAssertEqual(owner.slurmJob.cluster, "qaft-test", "\(owner)")
        try Slurm.cancel([owner.slurmJob.id])
        let dependents = Set(plan.stages.filter { $0.inputs.values.contains(finetune.key) }.map(\.key))
        XCTAssertFalse(dependents.isEmpty)
        _ = try waitFor("end of the cancelled job and its dependents", seconds: 60) {
            let queued = try Slurm.queuedJobs()
            return queued[finetune.key] == nil && dependents.isDisjoint(with: queued.keys) ? true : nil
        }
        XCTAssertNil(try cache.result(finetune.key), "the fine-tune finished before its job was cancelled")
        XCTAssert(FileManager.default.fileExists(atPath: trainerState.path), "the cancelled fine-tune left no checkpoint")

        let resubmitted = db.dir.appendingPathComponent("resubmitted.log")
        XCTAssertEqual(try QaftProcess.run(args, log: resubmitted), 0, QaftProcess.text(resubmitted))
        let runs = try cache.computations(of: finetune.key)
        XCTAssertEqual(runs.map(\.job), [owner.job, runs.last!.job], "the fine-tune's computations")
        XCTAssertEqual(runs.first?.resumedFrom, 0)
        XCTAssertGreaterThan(runs.last?.resumedFrom ?? 0, 0, "the resubmitted fine-tune started from scratch")
        let resumedLog = QaftProcess.text(SlurmSettings(logs: logs).log(finetune.key, job: String(runs.last!.job.prefix { $0 != "@" })))
        XCTAssert(resumedLog.contains("took over the claim of \(owner)") && resumedLog.contains("resumed from a checkpoint after"), resumedLog)
        let counts = Dictionary(grouping: try cache.computations(), by: \.key).mapValues(\.count)
        XCTAssertEqual(Set(counts.keys), Set(plan.stages.map(\.key)))
        XCTAssertEqual(counts.filter { $0.key != finetune.key && $0.value != 1 }.count, 0, "stages computed more than once: \(counts)")
        waitForLocalReference(reference, "tinymethods", in: db.dir)
        assertReportsEqualTheLocalRun("tinymethods", db.dir, output: "slurm")
        let nodes = try FileManager.default.contentsOfDirectory(at: logs, includingPropertiesForKeys: nil).compactMap { url in
            QaftProcess.text(url).split(separator: "\n").first { $0.contains(" on node ") }.map { String($0.split(separator: " ")[$0.split(separator: " ").count - 3]) }
        }
        XCTAssertEqual(Set(nodes), ["n1", "n2"], "jobs ran on \(nodes)")
    }

    /// A claim written on another node names its Slurm job: once Slurm reports that job ended
    /// (here cancelled), the claim is taken over at once, without waiting for its heartbeat to go
    /// stale; a claim of a running job, or of a job Slurm does not know, still holds.
    func testAClaimOfAJobSlurmReportsEndedIsTakenOverAtOnce() throws {
        _ = try requireCluster()
        let db = try database()
        let cache = try openCache(db)
        let keys = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinymethods", profile: .tiny)).stages.map(\.key)
        let hold = ["--output=/dev/null", "--cpus-per-task=1", "--mem=100M"]
        let running = try Slurm.submit(hold, command: "sleep 600"), cancelled = try Slurm.submit(hold, command: "sleep 600")
        defer { try? Slurm.cancel([running]) }
        try Slurm.cancel([cancelled])
        _ = try waitFor("job \(cancelled) cancelled", seconds: 30) {
            try Slurm.run("squeue", ["-h", "-j", cancelled, "-t", "all", "-o", "%T"]).contains("CANCELLED") ? true : nil
        }
        // Claims name their cluster (`.ci/slurm-cluster` calls it qaft-test): the same job id on
        // another cluster, which this host's Slurm cannot answer for, still holds.
        let owners = [ClaimOwner(pid: 4242, host: "node-elsewhere", job: cancelled), ClaimOwner(pid: 4243, host: "node-elsewhere", job: running),
                      ClaimOwner(pid: 4244, host: "node-elsewhere", job: "99999999"),
                      ClaimOwner(pid: 4245, host: "node-elsewhere", job: cancelled + "@qaft-test"),
                      ClaimOwner(pid: 4246, host: "node-elsewhere", job: cancelled + "@another-cluster")]
        for (key, owner) in zip(keys, owners) { try cache.insertClaim(key, owner: owner, heartbeat: Date()) }
        XCTAssertEqual(try cache.claim(keys[0]), .acquired(tookOverFrom: owners[0]))
        XCTAssertEqual(try cache.claim(keys[1]), .heldBy(owners[1]))
        XCTAssertEqual(try cache.claim(keys[2]), .heldBy(owners[2]))
        XCTAssertEqual(try cache.claim(keys[3]), .acquired(tookOverFrom: owners[3]))
        XCTAssertEqual(try cache.claim(keys[4]), .heldBy(owners[4]))
        XCTAssertEqual(owners[4].description, "process 4246 on node-elsewhere (Slurm job \(cancelled) on cluster another-cluster)")
    }

    /// Polls `body` until it gives a value; fails naming `what` after `seconds`.
    private func waitFor<T>(_ what: String, seconds: TimeInterval, poll: TimeInterval = 0.1, _ body: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try body() { return value }
            Thread.sleep(forTimeInterval: poll)
        }
        XCTFail("no \(what) after \(Int(seconds)) s")
        throw CocoaError(.userCancelled)
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

    /// `--resources KIND=CORES:GB` overrides the per-kind defaults, the longest kind prefix winning;
    /// a malformed one is refused naming it (no cluster needed).
    func testResourcesPerKindFromTheCommandLine() throws {
        let plan = try Planner(root: Fixtures.root).plan(Catalog.manifests("tinymethods", profile: .tiny))
        var settings = SlurmSettings(logs: URL(fileURLWithPath: "/tmp"))
        settings.resourceOverrides = ["finetune.": StageResources(cores: 4, memoryGB: 16), "finetune.lora": StageResources(cores: 3, memoryGB: 6)]
        for st in plan.stages {
            let expected = st.kind == "finetune.lora" ? "--cpus-per-task=3 --mem=6G" : st.kind.hasPrefix("finetune.") ? "--cpus-per-task=4 --mem=16G"
                : st.kind.hasPrefix("evaluate-") ? "--cpus-per-task=1 --mem=4G" : nil
            guard let expected else { continue }
            XCTAssert(settings.arguments(for: st, dependencies: []).joined(separator: " ").contains(expected), st.kind)
        }
        XCTAssert(plan.stages.contains { $0.kind == "finetune.lora" } && plan.stages.contains { $0.kind.hasPrefix("finetune.") && $0.kind != "finetune.lora" })
        // The merge of a sharded evaluation reads only its parts' scores: it asks for what a report does.
        var sharded = TinyTable.manifest(.tiny)
        sharded.evaluations[0].shards = 3
        let merges = try Planner(root: Fixtures.root).plan([sharded]).stages.filter(EvaluationSharding.isMerge)
        XCTAssertEqual(merges.count, 1)
        for st in merges {
            XCTAssert(SlurmSettings(logs: URL(fileURLWithPath: "/tmp")).arguments(for: st, dependencies: []).joined(separator: " ")
                .contains("--cpus-per-task=1 --mem=2G"), st.label)
            XCTAssert(settings.arguments(for: st, dependencies: []).joined(separator: " ").contains("--cpus-per-task=1 --mem=2G"))
        }
        let dir = try Fixtures.temporaryDirectory(), log = dir.appendingPathComponent("bad.log")
        XCTAssertNotEqual(try QaftProcess.run(["reproduce", "tinytable", "--profile", "tiny", "--cache", dir.appendingPathComponent("cache").path,
                                               "--executor", "slurm", "--resources", "finetune.=4"], log: log), 0)
        XCTAssert(QaftProcess.text(log).contains("--resources finetune.=4: expected KIND=CORES:GB"), QaftProcess.text(log))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("cache").path))
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
