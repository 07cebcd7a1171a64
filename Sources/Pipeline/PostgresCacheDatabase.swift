import Foundation
import PostgresNIO

/// The shared cache database: PostgreSQL, reached by every host of a cluster. One connection per
/// `Cache`, used synchronously (the cache's callers are synchronous code and a heartbeat timer):
/// a lock makes each transaction exclusive on it, and a dropped connection is reopened before the
/// next transaction.
final class PostgresCacheDatabase: CacheDatabase {
    let dialect = SQLDialect.postgres
    let address: PostgresAddress
    var location: String { address.description }
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var logger: Logger = {
        var l = Logger(label: "qaft.cache.postgres")
        l.logLevel = .critical
        return l
    }()

    init(address: PostgresAddress) throws {
        self.address = address
        lock.lock()
        defer { lock.unlock() }
        _ = try open()
    }

    deinit { try? connection?.close().wait() }

    private func open() throws -> PostgresConnection {
        if let c = connection, !c.isClosed { return c }
        do {
            let c = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(),
                                                   configuration: try address.configuration(), id: 1, logger: logger).wait()
            connection = c
            return c
        } catch {
            throw PipelineError.cache(path: location, reason: "cannot connect: " + Self.describe(error))
        }
    }

    func write<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try exclusive { executor in
            try executor.execute("BEGIN")
            do {
                let result = try body(executor)
                try executor.execute("COMMIT")
                return result
            } catch {
                try? executor.execute("ROLLBACK")
                throw error
            }
        }
    }

    func serialized<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try write { x in
            // Held until the transaction ends; another number than the schema lock's.
            try x.execute("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7158062)) AS l")
            return try body(x)
        }
    }

    func read<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try exclusive(body)
    }

    /// PostgreSQL checks its pages itself (and `amcheck` is an optional extension): what can go
    /// wrong here is the schema, so this confirms the server answers and every table is present.
    func integrityCheck() throws -> [String] {
        try read { db in
            let missing = try CacheSchema.tables.filter { try CacheSchema.columns(of: $0, in: db, dialect: dialect).isEmpty }
            return missing.isEmpty ? ["ok"] : missing.map { "table \($0) is missing" }
        }
    }

    private func exclusive<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let executor = Executor(connection: try open(), logger: logger, location: location)
        return try body(executor)
    }

    /// A precise reason from a postgres-nio error (its `description` is deliberately generic).
    static func describe(_ error: Error) -> String {
        guard let e = error as? PSQLError else { return String(describing: error) }
        if let info = e.serverInfo, let message = info[.message] {
            return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = e.underlying { return "\(e.code): \(underlying)" }
        return "\(e.code)"
    }

    private struct Executor: SQLExecutor {
        let connection: PostgresConnection
        let logger: Logger
        let location: String

        func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            var binds = PostgresBindings(capacity: arguments.count)
            for a in arguments {
                switch a {
                case .null: binds.appendNull()
                case .int(let i): binds.append(i)
                case .real(let r): binds.append(r)
                case .text(let s): binds.append(s)
                }
            }
            let result: PostgresQueryResult
            do {
                result = try connection.query(PostgresQuery(unsafeSQL: Self.numberedPlaceholders(sql), binds: binds), logger: logger).wait()
            } catch {
                throw PipelineError.cache(path: location, reason: PostgresCacheDatabase.describe(error) + " in: " + sql)
            }
            return try result.map { row in
                var out: [String: SQLValue] = [:]
                for cell in row { out[cell.columnName] = try Self.value(cell) }
                return SQLRow(out)
            }
        }

        static func value(_ cell: PostgresCell) throws -> SQLValue {
            if cell.bytes == nil { return .null }
            switch cell.dataType {
            case .int2: return .int(Int64(try cell.decode(Int16.self)))
            case .int4: return .int(Int64(try cell.decode(Int32.self)))
            case .int8: return .int(try cell.decode(Int64.self))
            case .float4: return .real(Double(try cell.decode(Float.self)))
            case .float8: return .real(try cell.decode(Double.self))
            default: return .text(try cell.decode(String.self))
            }
        }

        /// The cache's SQL uses SQLite's `?`; PostgreSQL numbers its parameters (`$1`, `$2`, …).
        /// Question marks inside string literals are left alone.
        static func numberedPlaceholders(_ sql: String) -> String {
            var out = "", n = 0, quoted = false
            for ch in sql {
                if ch == "'" { quoted.toggle() }
                if ch == "?", !quoted {
                    n += 1
                    out += "$\(n)"
                } else {
                    out.append(ch)
                }
            }
            return out
        }
    }
}
