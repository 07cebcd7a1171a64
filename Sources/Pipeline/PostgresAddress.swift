import Foundation
import PostgresNIO

/// A PostgreSQL database named by a URL, libpq style:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?host=SOCKET_DIR&sslmode=disable|require]`.
/// `host=` in the query names a Unix-socket directory (the socket is `DIR/.s.PGSQL.PORT`); a
/// missing password is read from `$PGPASSWORD`.
public struct PostgresAddress: Sendable, CustomStringConvertible {
    public let user: String
    public let password: String?
    public let host: String
    public let port: Int
    public let database: String
    public let socketDirectory: String?
    public let requireTLS: Bool

    /// True for the URLs this type parses (`postgres://` or `postgresql://`).
    public static func isPostgres(_ s: String) -> Bool { s.hasPrefix("postgres://") || s.hasPrefix("postgresql://") }

    public init(url text: String) throws {
        func bad(_ reason: String) -> PipelineError {
            .cache(path: Self.redacted(text), reason: reason + " (expected postgres://USER@HOST:PORT/DB)")
        }
        guard Self.isPostgres(text), let c = URLComponents(string: text) else { throw bad("not a PostgreSQL URL") }
        guard let user = c.user, !user.isEmpty else { throw bad("no user") }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw bad("no database") }
        let query = Dictionary((c.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, b in b })
        let socket = query["host"].flatMap { $0.isEmpty ? nil : $0 }
        guard (c.host.map { !$0.isEmpty } ?? false) || socket != nil else { throw bad("no host") }
        switch query["sslmode"] ?? "disable" {
        case "disable": requireTLS = false
        case "require", "verify-full": requireTLS = true
        case let other: throw bad("sslmode \(other) is not supported (disable or require)")
        }
        self.user = user.removingPercentEncoding ?? user
        password = c.password?.removingPercentEncoding
            ?? ProcessInfo.processInfo.environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        host = c.host ?? "localhost"
        port = c.port ?? 5432
        self.database = database.removingPercentEncoding ?? database
        socketDirectory = socket
    }

    /// The URL without its password, for messages.
    public var description: String {
        var s = "postgres://\(user)@\(host):\(port)/\(database)"
        if let d = socketDirectory { s += "?host=\(d)" }
        return s
    }

    static func redacted(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.password != nil else { return text }
        c.password = "***"
        return c.string ?? text
    }

    func configuration() throws -> PostgresConnection.Configuration {
        if let dir = socketDirectory {
            return .init(unixSocketPath: dir + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tls: PostgresConnection.Configuration.TLS = requireTLS
            ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        return .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }
}
