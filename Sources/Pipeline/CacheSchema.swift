import Foundation

/// The cache's tables, the same in every backend (only column types are spelled per dialect):
/// `results` (one row per stage key: components, output, artifact digest), `claims` (who is
/// computing which key, with a heartbeat), `computations` (a log of every computation started:
/// what `status` times and the tests count), `plans` (each target's last planned keys and
/// components, for `qaft why`).
enum CacheSchema {
    static let tables = ["results", "claims", "computations", "plans"]

    static func create(_ d: SQLDialect) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL,
              components TEXT NOT NULL, output TEXT NOT NULL, artifact TEXT, seconds \(d.double) NOT NULL, created \(d.double) NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, pid INTEGER NOT NULL, heartbeat \(d.double) NOT NULL,
              host TEXT NOT NULL DEFAULT '', job TEXT NOT NULL DEFAULT '')
            """,
            """
            CREATE TABLE IF NOT EXISTS computations (id \(d.autoIncrementKey), key TEXT NOT NULL,
              kind TEXT NOT NULL, label TEXT NOT NULL, pid INTEGER NOT NULL, started \(d.double) NOT NULL, finished \(d.double),
              resumed INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT '', job TEXT NOT NULL DEFAULT '')
            """,
            """
            CREATE TABLE IF NOT EXISTS plans (target TEXT NOT NULL, profile TEXT NOT NULL, label TEXT NOT NULL,
              key TEXT NOT NULL, components TEXT NOT NULL, PRIMARY KEY (target, profile, label))
            """,
        ]
    }

    /// Columns added after the first schema: caches made before them get them, empty (their
    /// claims and computations were all made on this host, which is what an empty host means).
    static let added: [(table: String, column: String)] = [("claims", "host"), ("claims", "job"), ("computations", "host"), ("computations", "job")]

    /// Creates missing tables and adds missing columns, in one transaction.
    static func install(on db: CacheDatabase) throws {
        try db.write { x in
            if let lock = db.dialect.schemaLock { try x.execute(lock) }
            for statement in create(db.dialect) { try x.execute(statement) }
            for (table, column) in added where try !columns(of: table, in: x, dialect: db.dialect).contains(column) {
                try x.execute("ALTER TABLE \(table) ADD COLUMN \(column) TEXT NOT NULL DEFAULT ''")
            }
        }
    }

    /// The column names of `table` (empty when it does not exist).
    static func columns(of table: String, in x: SQLExecutor, dialect: SQLDialect) throws -> Set<String> {
        Set(try x.query(dialect.columnNames, [.text(table)]).map { try $0.text("name") })
    }
}
