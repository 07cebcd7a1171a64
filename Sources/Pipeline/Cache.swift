import Foundation
import GRDB

/// The result cache: one SQLite database (WAL, busy timeout, full sync) beside the artifact store.
/// A result row is committed only after its artifact is published, in the same transaction that
/// drops the stage's claim, so a reader never sees a result whose artifact is incomplete.
///
/// Tables: `results` (one row per stage key: components, output, artifact digest), `claims`
/// (which process is computing which key, with a heartbeat), `computations` (a log of every
/// computation started: what `status` times and the tests count), `plans` (each target's last
/// planned keys and components, for `qaft why`).
public final class Cache {
    public let root: URL
    public let store: ArtifactStore
    let db: DatabaseQueue
    /// A claim whose owner has not beaten for this long is taken over even if its pid looks alive
    /// (a hung process, or a pid reused after a crash).
    public var claimStaleAfter: TimeInterval = 60

    /// Opens (creating if needed) the cache in `root`.
    public init(root: URL) throws {
        self.root = root
        store = ArtifactStore(root: root)
        let path = root.appendingPathComponent("cache.sqlite").path
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            var config = Configuration()
            config.journalMode = .wal
            config.busyMode = .timeout(60)
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            db = try Self.open(path, config)
            try db.inTransaction { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL,
                      components TEXT NOT NULL, output TEXT NOT NULL, artifact TEXT, seconds REAL NOT NULL, created REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, pid INTEGER NOT NULL, heartbeat REAL NOT NULL);
                    CREATE TABLE IF NOT EXISTS computations (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
                      kind TEXT NOT NULL, label TEXT NOT NULL, pid INTEGER NOT NULL, started REAL NOT NULL, finished REAL,
                      resumed INTEGER NOT NULL DEFAULT 0);
                    CREATE TABLE IF NOT EXISTS plans (target TEXT NOT NULL, profile TEXT NOT NULL, label TEXT NOT NULL,
                      key TEXT NOT NULL, components TEXT NOT NULL, PRIMARY KEY (target, profile, label));
                    """)
                return .commit
            }
        } catch let e as DatabaseError {
            throw PipelineError.cache(path: path, reason: e.description)
        }
    }

    /// Two processes creating the same cache race to switch it to WAL, which SQLite reports as
    /// SQLITE_BUSY at once (the busy timeout does not cover it): the loser waits and opens again.
    private static func open(_ path: String, _ config: Configuration) throws -> DatabaseQueue {
        var attempts = 0
        while true {
            do {
                return try DatabaseQueue(path: path, configuration: config)
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY && attempts < 200 {
                attempts += 1
                usleep(50_000)
            }
        }
    }

    /// The cache directory: `--cache`, else `$QAFT_CACHE`, else `.cache/qaft` under `base`.
    public static func location(option: String?, base: URL) -> URL {
        if let o = option { return URL(fileURLWithPath: o, relativeTo: base).standardizedFileURL }
        if let e = ProcessInfo.processInfo.environment["QAFT_CACHE"], !e.isEmpty {
            return URL(fileURLWithPath: e, relativeTo: base).standardizedFileURL
        }
        return base.appendingPathComponent(".cache/qaft")
    }

    func checkpoint(for key: StageKey) -> CheckpointDirectory {
        CheckpointDirectory(root.appendingPathComponent("checkpoints").appendingPathComponent(key.hex))
    }

    // MARK: results

    /// The committed result for `key`, if any.
    public func result(_ key: StageKey) throws -> StageRecord? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM results WHERE key = ?", arguments: [key.hex]).map(record)
        }
    }

    public func allResults() throws -> [(record: StageRecord, label: String, components: KeyComponents)] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM results ORDER BY key").map { row in
                (try record(row), row["label"], try JSONDecoder().decode(KeyComponents.self, from: Data((row["components"] as String).utf8)))
            }
        }
    }

    private func record(_ row: Row) throws -> StageRecord {
        let output = try JSONDecoder().decode(StageOutput.self, from: Data((row["output"] as String).utf8))
        let artifact: String? = row["artifact"]
        return StageRecord(key: StageKey(hex: row["key"]), kind: row["kind"], output: output, artifact: artifact,
                           artifactURL: artifact.map { store.url(of: $0) }, seconds: row["seconds"])
    }

    /// Commits a finished stage and drops its claim, atomically.
    func commit(key: StageKey, kind: String, label: String, components: KeyComponents, output: StageOutput,
                artifact: String?, seconds: Double, computation: Int64) throws {
        let comps = String(decoding: try JSONEncoder().encode(components), as: UTF8.self)
        let out = String(decoding: try JSONEncoder().encode(output), as: UTF8.self)
        try db.inTransaction { db in
            try db.execute(sql: "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [key.hex, kind, label, comps, out, artifact, seconds, Date().timeIntervalSince1970])
            try db.execute(sql: "DELETE FROM claims WHERE key = ?", arguments: [key.hex])
            try db.execute(sql: "UPDATE computations SET finished = ? WHERE id = ?",
                           arguments: [Date().timeIntervalSince1970, computation])
            return .commit
        }
    }

    func deleteResult(_ key: StageKey) throws {
        try db.inTransaction { db in
            try db.execute(sql: "DELETE FROM results WHERE key = ?", arguments: [key.hex])
            return .commit
        }
    }

    // MARK: claims

    public enum ClaimOutcome: Equatable {
        /// This process now owns the key (`tookOverFrom`: a dead or silent previous owner).
        case acquired(tookOverFrom: Int32?)
        /// A live process is computing it.
        case heldBy(Int32)
        /// The result appeared meanwhile.
        case done
    }

    /// Tries to become the one process computing `key`.
    func claim(_ key: StageKey) throws -> ClaimOutcome {
        let me = getpid(), now = Date().timeIntervalSince1970
        var outcome = ClaimOutcome.done
        try db.inTransaction { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM results WHERE key = ?", arguments: [key.hex]) != nil {
                outcome = .done
                return .commit
            }
            var previous: Int32?
            if let row = try Row.fetchOne(db, sql: "SELECT pid, heartbeat FROM claims WHERE key = ?", arguments: [key.hex]) {
                let pid: Int32 = row["pid"], beat: Double = row["heartbeat"]
                if pid != me, ProcessLiveness.isAlive(pid), now - beat < claimStaleAfter {
                    outcome = .heldBy(pid)
                    return .commit
                }
                previous = pid == me ? nil : pid
            }
            try db.execute(sql: "INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", arguments: [key.hex, me, now])
            outcome = .acquired(tookOverFrom: previous)
            return .commit
        }
        return outcome
    }

    func heartbeat(_ key: StageKey) throws {
        try db.inTransaction { db in
            try db.execute(sql: "UPDATE claims SET heartbeat = ? WHERE key = ? AND pid = ?",
                           arguments: [Date().timeIntervalSince1970, key.hex, getpid()])
            return .commit
        }
    }

    func release(_ key: StageKey) throws {
        try db.inTransaction { db in
            try db.execute(sql: "DELETE FROM claims WHERE key = ? AND pid = ?", arguments: [key.hex, getpid()])
            return .commit
        }
    }

    /// Live claims (key → pid).
    public func claims() throws -> [StageKey: Int32] {
        try db.read { db in
            var out: [StageKey: Int32] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, pid FROM claims") { out[StageKey(hex: row["key"])] = row["pid"] }
            return out
        }
    }

    /// Removes claims whose process is gone; returns how many.
    func dropDeadClaims() throws -> Int {
        var count = 0
        try db.inTransaction { db in
            for row in try Row.fetchAll(db, sql: "SELECT key, pid FROM claims") where !ProcessLiveness.isAlive(row["pid"]) {
                try db.execute(sql: "DELETE FROM claims WHERE key = ?", arguments: [row["key"] as String])
                count += 1
            }
            return .commit
        }
        return count
    }
}
