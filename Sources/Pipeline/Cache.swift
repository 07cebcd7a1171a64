import Foundation

/// The result cache: its tables in a `CacheDatabase` (SQLite on one machine, PostgreSQL shared by
/// a cluster) beside the artifact store. A result row is committed only after its artifact is
/// published, in the same transaction that drops the stage's claim, so a reader never sees a
/// result whose artifact is incomplete. The tables are described in `CacheSchema`.
public final class Cache {
    /// Where artifacts, staging directories and checkpoints live.
    public let root: URL
    public let store: ArtifactStore
    public let location: CacheLocation
    let db: CacheDatabase
    /// A claim whose owner has not beaten for this long is taken over even if its pid looks alive
    /// (a hung process, a pid reused after a crash, or any owner on another host).
    public var claimStaleAfter: TimeInterval = 60

    /// Opens (creating if needed) the SQLite cache in `root`.
    public convenience init(root: URL) throws {
        try self.init(.sqlite(directory: root))
    }

    /// Opens (creating the tables if needed) the cache at `location`.
    public init(_ location: CacheLocation) throws {
        self.location = location
        root = location.artifactRoot
        store = ArtifactStore(root: root)
        switch location {
        case .sqlite(let directory):
            db = try SQLiteCacheDatabase(path: directory.appendingPathComponent("cache.sqlite").path)
        case let .postgres(address, artifacts):
            db = try PostgresCacheDatabase(address: address)
            try Self.prepareSharedFolder(artifacts)
        }
        try CacheSchema.install(on: db)
    }

    /// The shared folder must exist (or be creatable) and be writable before any stage runs, so
    /// a wrong path fails at once rather than after the first computation.
    private static func prepareSharedFolder(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw PipelineError.artifact(path: url.path, reason: "cannot create the shared artifact folder: \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: url.path) else {
            throw PipelineError.artifact(path: url.path, reason: "the shared artifact folder is not writable")
        }
    }

    func checkpoint(for key: StageKey) -> CheckpointDirectory {
        CheckpointDirectory(root.appendingPathComponent("checkpoints").appendingPathComponent(key.hex))
    }

    // MARK: results

    /// The committed result for `key`, if any.
    public func result(_ key: StageKey) throws -> StageRecord? {
        try db.read { x in try x.query("SELECT * FROM results WHERE key = ?", [.text(key.hex)]).first.map(record) }
    }

    public func allResults() throws -> [(record: StageRecord, label: String, components: KeyComponents)] {
        try db.read { x in
            try x.query("SELECT * FROM results ORDER BY key", []).map { row in
                (try record(row), try row.text("label"), try JSONDecoder().decode(KeyComponents.self, from: Data(try row.text("components").utf8)))
            }
        }
    }

    private func record(_ row: SQLRow) throws -> StageRecord {
        let output = try JSONDecoder().decode(StageOutput.self, from: Data(try row.text("output").utf8))
        let artifact = try row.optionalText("artifact")
        return StageRecord(key: StageKey(hex: try row.text("key")), kind: try row.text("kind"), output: output, artifact: artifact,
                           artifactURL: artifact.map { store.url(of: $0) }, seconds: try row.real("seconds"))
    }

    /// Commits a finished stage and drops its claim, atomically.
    func commit(key: StageKey, kind: String, label: String, components: KeyComponents, output: StageOutput,
                artifact: String?, seconds: Double, computation: Int64) throws {
        let comps = String(decoding: try JSONEncoder().encode(components), as: UTF8.self)
        let out = String(decoding: try JSONEncoder().encode(output), as: UTF8.self)
        let now = Date().timeIntervalSince1970
        try db.write { x in
            try x.execute("""
                INSERT INTO results (key, kind, label, components, output, artifact, seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, label = excluded.label, components = excluded.components,
                  output = excluded.output, artifact = excluded.artifact, seconds = excluded.seconds, created = excluded.created
                """, [.text(key.hex), .text(kind), .text(label), .text(comps), .text(out), artifact.map(SQLValue.text) ?? .null,
                      .real(seconds), .real(now)])
            try x.execute("DELETE FROM claims WHERE key = ?", [.text(key.hex)])
            try x.execute("UPDATE computations SET finished = ? WHERE id = ?", [.real(now), .int(computation)])
        }
    }

    func deleteResult(_ key: StageKey) throws {
        try db.write { x in try x.execute("DELETE FROM results WHERE key = ?", [.text(key.hex)]) }
    }
}
