import Foundation

/// One computation started by some run (finished or not).
public struct Computation: Sendable {
    public let key: StageKey
    public let kind: String
    public let label: String
    public let pid: Int32
    /// The host and Slurm job (`ClaimOwner.job`: id@cluster) that ran it (empty: not recorded, an
    /// older local cache).
    public let host: String
    public let job: String
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
        let me = ClaimOwner.current
        return try db.write { x in
            let rows = try x.query("INSERT INTO computations (key, kind, label, pid, host, job, started) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                   [.text(key.hex), .text(kind), .text(label)] + Self.values(me) + [.real(Date().timeIntervalSince1970)])
            guard let id = try rows.first?.int("id") else { throw PipelineError.cache(path: db.location, reason: "no id for a new computation") }
            return id
        }
    }

    func logResumed(_ computation: Int64, from units: Int) throws {
        try db.write { x in try x.execute("UPDATE computations SET resumed = ? WHERE id = ?", [.int(Int64(units)), .int(computation)]) }
    }

    /// Every computation started in this cache, oldest first (optionally of one key).
    public func computations(of key: StageKey? = nil) throws -> [Computation] {
        try db.read { x in
            let rows = try key.map { try x.query("SELECT * FROM computations WHERE key = ? ORDER BY id", [.text($0.hex)]) }
                ?? x.query("SELECT * FROM computations ORDER BY id", [])
            return try rows.map { r in
                Computation(key: StageKey(hex: try r.text("key")), kind: try r.text("kind"), label: try r.text("label"),
                            pid: Int32(truncatingIfNeeded: try r.int("pid")), host: try r.text("host"), job: try r.text("job"),
                            started: Date(timeIntervalSince1970: try r.real("started")),
                            finished: try r.optionalReal("finished").map { Date(timeIntervalSince1970: $0) }, resumedFrom: Int(try r.int("resumed")))
            }
        }
    }

    /// Mean seconds of finished results of `kind`, for ETAs (nil when none ran yet).
    public func meanSeconds(kind: String) throws -> Double? {
        try db.read { x in try x.query("SELECT avg(seconds) AS mean FROM results WHERE kind = ?", [.text(kind)]).first?.optionalReal("mean") }
    }

    /// Replaces the recorded plan of `target` under `profile`. Two runs of one target may record
    /// at once; the upsert keeps the later one's rows instead of failing on the key.
    func recordPlan(target: String, profile: String, stages: [RecordedStage]) throws {
        let enc = JSONEncoder()
        try db.write { x in
            try x.execute("DELETE FROM plans WHERE target = ? AND profile = ?", [.text(target), .text(profile)])
            for s in stages {
                try x.execute("""
                    INSERT INTO plans (target, profile, label, key, components) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (target, profile, label) DO UPDATE SET key = excluded.key, components = excluded.components
                    """, [.text(target), .text(profile), .text(s.label), .text(s.key.hex), .text(String(decoding: try enc.encode(s.components), as: UTF8.self))])
            }
        }
    }

    /// The plan recorded at the last `reproduce` of `target` under `profile` (empty if never).
    public func recordedPlan(target: String, profile: String) throws -> [RecordedStage] {
        try db.read { x in
            // Sorted here, not by the server: PostgreSQL's collation may differ from SQLite's byte order.
            try x.query("SELECT * FROM plans WHERE target = ? AND profile = ?", [.text(target), .text(profile)]).map { r in
                RecordedStage(label: try r.text("label"), key: StageKey(hex: try r.text("key")),
                              components: try JSONDecoder().decode(KeyComponents.self, from: Data(try r.text("components").utf8)))
            }.sorted { $0.label.utf8.lexicographicallyPrecedes($1.label.utf8) }
        }
    }
}
