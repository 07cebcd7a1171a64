import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The cache on a real PostgreSQL 15 (started for this class, stopped after it): the tiny table
/// gives the SQLite run's CSVs, concurrent runs compute no stage twice, claims of dead or silent
/// owners on other hosts are taken over, and check / gc / status / why work against it.
final class PostgresCacheTests: XCTestCase {
    private static let postgres = ClassPostgres()

    override class func tearDown() {
        postgres.stop()
        super.tearDown()
    }

    /// A fresh database for one test (its name from the test's) and a shared artifact folder.
    private func database(_ name: String = #function) throws -> (url: String, artifacts: URL, dir: URL) {
        let dir = try Fixtures.temporaryDirectory("pg" + name.filter { $0.isLetter || $0.isNumber }.lowercased())
        return (try Self.postgres.database(name), dir.appendingPathComponent("shared"), dir)
    }

    private func openCache(_ db: (url: String, artifacts: URL, dir: URL)) throws -> Cache {
        try Cache(.postgres(try PostgresAddress(url: db.url), artifacts: db.artifacts))
    }

    private func tinyPlan() throws -> Plan { try Planner(root: Fixtures.root).plan([TinyTable.manifest(.tiny)]) }

    private func qaft(_ args: [String], _ db: (url: String, artifacts: URL, dir: URL), log: String) throws -> (status: Int32, text: String) {
        let file = db.dir.appendingPathComponent(log + ".log")
        let status = try QaftProcess.run(args + ["--profile", "tiny", "--cache", db.url, "--artifacts", db.artifacts.path], log: file)
        return (status, QaftProcess.text(file))
    }

    private static let reports = ["Results/tinytable-tiny.csv", "Results/tinytable-tiny-wide.csv", "Results/tinytable-tiny.md"]

    func testTinyTableOnPostgresEqualsSQLiteAndStatusWhyCheckGCWork() throws {
        let db = try database()
        let sqliteOut = db.dir.appendingPathComponent("sqlite-out"), pgOut = db.dir.appendingPathComponent("pg-out")
        XCTAssertEqual(try QaftProcess.run(QaftProcess.reproduceTiny(cache: db.dir.appendingPathComponent("sqlite"), output: sqliteOut),
                                           log: db.dir.appendingPathComponent("sqlite.log")), 0)
        let before = try qaft(["status", "tinytable"], db, log: "status0")
        XCTAssertEqual(before.status, 0, before.text)
        XCTAssert(before.text.contains("4 of 4 stages would run"), before.text)
        XCTAssert(before.text.contains("the cached stages took 0:00:00 to compute"), before.text)

        let run = try qaft(["reproduce", "tinytable", "--output", pgOut.path, "--quiet"], db, log: "pg")
        XCTAssertEqual(run.status, 0, run.text)
        for f in Self.reports {
            let expected = QaftProcess.text(sqliteOut.appendingPathComponent(f))
            XCTAssertFalse(expected.isEmpty, f)
            XCTAssertEqual(QaftProcess.text(pgOut.appendingPathComponent(f)), expected, f)
        }
        // A second run computes nothing; every stage ran once, on this host.
        XCTAssertEqual(try qaft(["reproduce", "tinytable", "--output", pgOut.path, "--quiet"], db, log: "pg2").status, 0)
        let cache = try openCache(db)
        let plan = try tinyPlan()
        let computations = try cache.computations()
        XCTAssertEqual(computations.map(\.key).sorted(by: { $0.hex < $1.hex }), plan.stages.map(\.key).sorted(by: { $0.hex < $1.hex }))
        XCTAssertEqual(Set(computations.map(\.host)), [ClaimOwner.hostName])
        XCTAssert(FileManager.default.fileExists(atPath: db.artifacts.appendingPathComponent("artifacts").path))

        let after = try qaft(["status", "tinytable"], db, log: "status1")
        XCTAssert(after.text.contains("0 of 4 stages would run"), after.text)
        let seconds = Int(try plan.stages.reduce(0.0) { $0 + (try cache.result($1.key)?.seconds ?? .nan) }.rounded())
        XCTAssert(after.text.contains(String(format: "the cached stages took 0:%02d:%02d to compute", seconds / 60, seconds % 60)), after.text)
        let why = try qaft(["why", "tinytable"], db, log: "why")
        XCTAssertEqual(why.status, 0, why.text)
        XCTAssert(why.text.contains("nothing changed since the last run of tinytable"), why.text)
        let check = try qaft(["check"], db, log: "check")
        XCTAssertEqual(check.status, 0, check.text)
        XCTAssert(check.text.contains("cache is sound (0 leftovers for gc)"), check.text)

        // Leftovers: an orphan artifact, a staging folder of a job on another host that holds no
        // claim, a claim of a silent job elsewhere. check names them, gc removes them.
        let orphan = cache.store.url(of: String(repeating: "ab", count: 32))
        try FileManager.default.createDirectory(at: orphan, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: orphan.appendingPathComponent("f"))
        try FileManager.default.createDirectory(at: db.artifacts.appendingPathComponent("staging/0123456789ab-4242-7@node-gone"),
                                                withIntermediateDirectories: true)
        try cache.insertClaim(StageKey(hex: String(repeating: "cd", count: 32)), owner: ClaimOwner(pid: 4242, host: "node-gone", job: "77"),
                              heartbeat: Date(timeIntervalSinceNow: -3600))
        let leftovers = try qaft(["check"], db, log: "check2")
        XCTAssertEqual(leftovers.status, 0, leftovers.text)
        XCTAssert(leftovers.text.contains("cache is sound (2 leftovers for gc)"), leftovers.text)
        let gc = try qaft(["gc"], db, log: "gc")
        XCTAssertEqual(gc.status, 0, gc.text)
        XCTAssert(gc.text.contains("removed 1 artifacts, 1 staging directories, 0 finished checkpoints, 1 dead claims"), gc.text)
        XCTAssertEqual(try cache.check().map(\.message), [])
        XCTAssertEqual(try cache.claims(), [:])

        // A damaged artifact is corruption: check exits 1 naming it.
        let report = try XCTUnwrap(try cache.result(XCTUnwrap(plan.reports["tinytable"]))?.artifactURL)
        try Data("tampered".utf8).write(to: report.appendingPathComponent("Results/tinytable-tiny.csv"))
        let corrupt = try qaft(["check"], db, log: "check3")
        XCTAssertEqual(corrupt.status, 1, corrupt.text)
        XCTAssert(corrupt.text.contains("CORRUPT") && corrupt.text.contains("1 corrupt entries"), corrupt.text)
    }

    func testTwoConcurrentRunsOnPostgresComputeEachStageOnce() throws {
        let db = try database()
        let runs = try (0..<2).map { i in
            try QaftProcess.start(["reproduce", "tinytable", "--profile", "tiny", "--cache", db.url, "--artifacts", db.artifacts.path,
                                   "--output", db.dir.appendingPathComponent("out\(i)").path, "--quiet"],
                                  log: db.dir.appendingPathComponent("run\(i).log"))
        }
        for (i, p) in runs.enumerated() {
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, QaftProcess.text(db.dir.appendingPathComponent("run\(i).log")))
        }
        let cache = try openCache(db)
        let counts = Dictionary(grouping: try cache.computations(), by: \.key).mapValues(\.count)
        XCTAssertEqual(Set(counts.keys), Set(try tinyPlan().stages.map(\.key)))
        XCTAssertEqual(Set(counts.values), [1], "some stage was computed twice: \(counts)")
        XCTAssertEqual(try cache.check().map(\.message), [])
        for f in Self.reports {
            XCTAssertEqual(QaftProcess.text(db.dir.appendingPathComponent("out0/" + f)), QaftProcess.text(db.dir.appendingPathComponent("out1/" + f)), f)
        }
    }

    /// A pid means nothing on another host: a claim from elsewhere is held while its heartbeat is
    /// fresh, whatever that pid is here, and taken over once it is stale; on this host a dead pid
    /// loses its claim at once.
    func testClaimsFromOtherHostsAreJudgedByHeartbeat() throws {
        let db = try database()
        let cache = try openCache(db)
        let plan = try tinyPlan()
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let elsewhere = ClaimOwner(pid: dead.processIdentifier, host: "node-elsewhere", job: "1234")
        try cache.insertClaim(plan.stages[0].key, owner: elsewhere, heartbeat: Date())
        XCTAssertEqual(try cache.claim(plan.stages[0].key), .heldBy(elsewhere))
        try cache.insertClaim(plan.stages[1].key, owner: ClaimOwner(pid: dead.processIdentifier, host: ClaimOwner.hostName), heartbeat: Date())
        XCTAssertEqual(try cache.claim(plan.stages[1].key), .acquired(tookOverFrom: ClaimOwner(pid: dead.processIdentifier, host: ClaimOwner.hostName)))
        try cache.release(plan.stages[1].key)

        // The other host's job went silent: its claim is taken over and every stage computed once.
        let stale = ClaimOwner(pid: 1, host: "node-silent", job: "99")
        try cache.db.write { x in
            try x.execute("UPDATE claims SET pid = ?, host = ?, job = ?, heartbeat = ? WHERE key = ?",
                          [.int(1), .text(stale.host), .text(stale.job), .real(Date().timeIntervalSince1970 - 3600), .text(plan.stages[0].key.hex)])
        }
        var tookOver: [ClaimOwner] = []
        let summary = try Runner(cache: cache) { if case .tookOver(_, let previous) = $0 { tookOver.append(previous) } }.run(plan)
        XCTAssertEqual(tookOver, [stale])
        XCTAssertEqual(summary.computed.count, plan.stages.count)
        XCTAssertEqual(try cache.claims(), [:])
        XCTAssertEqual(Set(try cache.computations().map(\.key)), Set(plan.stages.map(\.key)))
    }

    /// Four connections, each standing in for a process on its own host, race for the same keys:
    /// the transactions let exactly one owner acquire each key.
    func testRacingClaimsAcquireEachKeyOnce() throws {
        let db = try database()
        let caches = try (0..<4).map { _ in try openCache(db) }
        let keys = (0..<50).map { i in StageKey(hex: String(format: "%064x", i)) }
        let lock = NSLock()
        var winners: [StageKey: [Int]] = [:], errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: caches.count) { c in
            let owner = ClaimOwner(pid: Int32(1000 + c), host: "racer-\(c)")
            for k in keys {
                do {
                    if case .acquired = try caches[c].claim(k, as: owner) {
                        lock.lock(); winners[k, default: []].append(c); lock.unlock()
                    }
                } catch {
                    lock.lock(); errors.append("\(error)"); lock.unlock()
                }
            }
        }
        XCTAssertEqual(errors, [])
        XCTAssertEqual(winners.count, keys.count)
        XCTAssertEqual(winners.filter { $0.value.count != 1 }.count, 0, "keys acquired twice: \(winners.filter { $0.value.count != 1 })")
    }

    func testAPostgresCacheWithoutASharedFolderIsRefused() throws {
        let base = URL(fileURLWithPath: "/tmp")
        XCTAssertThrowsError(try CacheLocation.resolve(cache: "postgres://qaft@db.example:5432/qaft", artifacts: nil, base: base, environment: [:])) {
            XCTAssertEqual("\($0)", "cache postgres://qaft@db.example:5432/qaft: a PostgreSQL cache needs a folder for artifacts and checkpoints that every host sees: give --artifacts DIR or set QAFT_ARTIFACTS")
        }
        let fromEnvironment = try CacheLocation.resolve(cache: nil, artifacts: nil, base: base,
                                                        environment: ["QAFT_CACHE": "postgres://u@h:5/d", "QAFT_ARTIFACTS": "/shared/qaft"])
        XCTAssertEqual(fromEnvironment.artifactRoot.path, "/shared/qaft")
        XCTAssertEqual(fromEnvironment.description, "postgres://u@h:5/d (artifacts in /shared/qaft)")
        XCTAssertEqual(try CacheLocation.resolve(cache: "c", artifacts: nil, base: base, environment: [:]), .sqlite(directory: URL(fileURLWithPath: "/tmp/c")))
        XCTAssertThrowsError(try CacheLocation.resolve(cache: "c", artifacts: "/shared", base: base, environment: [:]))
    }

    func testSQLiteOnANetworkFilesystemIsRefused() {
        XCTAssertEqual(NetworkFilesystem.name(ofType: 0x6969), "NFS")
        XCTAssertEqual(NetworkFilesystem.name(ofType: 0xFF53_4D42), "CIFS")
        XCTAssertEqual(NetworkFilesystem.name(ofType: 0xFE53_4D42), "SMB2")
        XCTAssertNil(NetworkFilesystem.name(ofType: 0xEF53), "ext4 is local")
        // statfs itself answers (the type of the temporary folder's filesystem, a local one).
        XCTAssertNotNil(NetworkFilesystem.fileSystemType(FileManager.default.temporaryDirectory.path))
        XCTAssertNil(NetworkFilesystem.name(at: FileManager.default.temporaryDirectory))
        XCTAssertEqual("\(PipelineError.cache(path: "/mnt/nfs/qaft/cache.sqlite", reason: NetworkFilesystem.refusal("NFS")))",
                       "cache /mnt/nfs/qaft/cache.sqlite: is on a network filesystem (NFS), where SQLite's locking is unreliable; "
                       + "share a cache between machines through PostgreSQL instead: --cache postgres://USER@HOST:PORT/DB --artifacts SHARED_DIR")
    }
}
