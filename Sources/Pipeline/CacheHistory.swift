import Foundation
import GRDB

/// One computation started by some run (finished or not).
public struct Computation: Sendable {
    public let key: StageKey
    public let kind: String
    public let label: String
    public let pid: Int32
    public let started: Date
    public let finished: Date?
    /// Units of work restored from a checkpoint when it started (0: from scratch).
    public let resumedFrom: Int
}

/// The planned stage of a target as recorded at its last `reproduce` (for `qaft why`).
public struct RecordedStage: Sendable {
    public let label: String
    public let key: StageKey
    public let components: KeyComponents
}

extension Cache {
    func logStart(key: StageKey, kind: String, label: String) throws -> Int64 {
        var id: Int64 = 0
        try db.inTransaction { db in
            try db.execute(sql: "INSERT INTO computations (key, kind, label, pid, started) VALUES (?, ?, ?, ?, ?)",
                           arguments: [key.hex, kind, label, getpid(), Date().timeIntervalSince1970])
            id = db.lastInsertedRowID
            return .commit
        }
        return id
    }

    func logResumed(_ computation: Int64, from units: Int) throws {
        try db.inTransaction { db in
            try db.execute(sql: "UPDATE computations SET resumed = ? WHERE id = ?", arguments: [units, computation])
            return .commit
        }
    }

    /// Every computation started in this cache, oldest first (optionally of one key).
    public func computations(of key: StageKey? = nil) throws -> [Computation] {
        try db.read { db in
            let rows = try key.map { try Row.fetchAll(db, sql: "SELECT * FROM computations WHERE key = ? ORDER BY id", arguments: [$0.hex]) }
                ?? Row.fetchAll(db, sql: "SELECT * FROM computations ORDER BY id")
            return rows.map { r in
                let finished: Double? = r["finished"]
                return Computation(key: StageKey(hex: r["key"]), kind: r["kind"], label: r["label"], pid: r["pid"],
                                   started: Date(timeIntervalSince1970: r["started"]),
                                   finished: finished.map { Date(timeIntervalSince1970: $0) }, resumedFrom: r["resumed"])
            }
        }
    }

    /// Mean seconds of finished results of `kind`, for ETAs (nil when none ran yet).
    public func meanSeconds(kind: String) throws -> Double? {
        try db.read { db in try Double.fetchOne(db, sql: "SELECT avg(seconds) FROM results WHERE kind = ?", arguments: [kind]) }
    }

    /// Replaces the recorded plan of `target` under `profile`.
    func recordPlan(target: String, profile: String, stages: [RecordedStage]) throws {
        let enc = JSONEncoder()
        try db.inTransaction { db in
            try db.execute(sql: "DELETE FROM plans WHERE target = ? AND profile = ?", arguments: [target, profile])
            for s in stages {
                try db.execute(sql: "INSERT INTO plans VALUES (?, ?, ?, ?, ?)",
                               arguments: [target, profile, s.label, s.key.hex, String(decoding: try enc.encode(s.components), as: UTF8.self)])
            }
            return .commit
        }
    }

    /// The plan recorded at the last `reproduce` of `target` under `profile` (empty if never).
    public func recordedPlan(target: String, profile: String) throws -> [RecordedStage] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM plans WHERE target = ? AND profile = ? ORDER BY label",
                             arguments: [target, profile]).map { r in
                RecordedStage(label: r["label"], key: StageKey(hex: r["key"]),
                              components: try JSONDecoder().decode(KeyComponents.self, from: Data((r["components"] as String).utf8)))
            }
        }
    }

    /// SQLite's own consistency check ("ok" when sound).
    func sqliteIntegrity() throws -> [String] {
        try db.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
