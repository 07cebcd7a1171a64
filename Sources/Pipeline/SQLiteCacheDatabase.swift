import Foundation
import GRDB

/// The one-machine cache database: a SQLite file (WAL, busy timeout, full sync). Refused on a
/// network filesystem, where SQLite's WAL locking does not work.
final class SQLiteCacheDatabase: CacheDatabase {
    let dialect = SQLDialect.sqlite
    let location: String
    private let queue: DatabaseQueue

    init(path: String) throws {
        location = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        if let fs = NetworkFilesystem.name(at: directory) {
            throw PipelineError.cache(path: path, reason: NetworkFilesystem.refusal(fs))
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var config = Configuration()
            config.journalMode = .wal
            config.busyMode = .timeout(60)
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            queue = try Self.open(path, config)
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

    func write<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try translatingErrors {
            var result: T?
            try queue.inTransaction { db in
                result = try body(Executor(db: db))
                return .commit
            }
            return result!
        }
    }

    func serialized<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try translatingErrors {
            var result: T?
            try queue.inTransaction(.immediate) { db in
                result = try body(Executor(db: db))
                return .commit
            }
            return result!
        }
    }

    func read<T>(_ body: (SQLExecutor) throws -> T) throws -> T {
        try translatingErrors { try queue.read { db in try body(Executor(db: db)) } }
    }

    func integrityCheck() throws -> [String] {
        try read { db in try db.query("PRAGMA integrity_check", []).map { try $0.text("integrity_check") } }
    }

    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as DatabaseError { throw PipelineError.cache(path: location, reason: e.description) }
    }

    private struct Executor: SQLExecutor {
        let db: Database

        func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            let values: [DatabaseValueConvertible?] = arguments.map { v in
                switch v {
                case .null: return nil
                case .int(let i): return i
                case .real(let r): return r
                case .text(let s): return s
                }
            }
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(values)).map { row in
                var out: [String: SQLValue] = [:]
                for (name, value) in row {
                    switch value.storage {
                    case .null: out[name] = .null
                    case .int64(let i): out[name] = .int(i)
                    case .double(let d): out[name] = .real(d)
                    case .string(let s): out[name] = .text(s)
                    case .blob(let b): out[name] = .text(String(decoding: b, as: UTF8.self))
                    }
                }
                return SQLRow(out)
            }
        }
    }
}
