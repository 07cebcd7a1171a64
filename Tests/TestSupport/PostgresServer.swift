import Foundation
import XCTest

/// A throwaway PostgreSQL server for tests: `initdb` in a temporary folder, `pg_ctl start` on a
/// free loopback port with its Unix socket in that folder, trust authentication for the user
/// `qaft`, stopped by `stop()`. Durability is switched off (fsync, synchronous commit): the data
/// dies with the test anyway.
///
/// PostgreSQL refuses to run as root, and tests run as root in CI: then the server runs as the
/// `postgres` user (Debian's package creates it) or else `nobody`, through `runuser`.
public final class PostgresServer {
    public let port: Int
    public let folder: URL
    public let user = "qaft"
    let binaries: URL
    let runAs: String?
    var data: URL { folder.appendingPathComponent("data") }

    /// Starts a server; fails the test (never skips it) when PostgreSQL is not installed.
    public static func start() throws -> PostgresServer {
        guard let bin = binaryDirectory() else {
            XCTFail("PostgreSQL server binaries (initdb, pg_ctl) not found in $QAFT_PG_BIN, /usr/lib/postgresql/*/bin or PATH: "
                + "install Debian's postgresql-15 (`make setup` does)")
            throw CocoaError(.fileNoSuchFile)
        }
        return try PostgresServer(binaries: bin)
    }

    private init(binaries: URL) throws {
        self.binaries = binaries
        runAs = geteuid() == 0 ? (getpwnam("postgres") != nil ? "postgres" : "nobody") : nil
        // A short path of its own: a Unix socket path must fit in 107 bytes.
        folder = URL(fileURLWithPath: "/tmp/qaft-pg-\(getpid())-\(UInt16.random(in: 0...UInt16.max))")
        let fm = FileManager.default
        try? fm.removeItem(at: folder)
        try fm.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        if let runAs, let pw = getpwnam(runAs) {
            guard chown(folder.path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                throw PostgresServerError("cannot give \(folder.path) to \(runAs): \(String(cString: strerror(errno)))")
            }
        }
        port = try Self.freePort()
        try run("initdb", ["-D", data.path, "-U", user, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        let options = "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try run("pg_ctl", ["-D", data.path, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60", "-o", options, "start"])
    }

    /// Creates database `name`; returns its URL (TCP on 127.0.0.1).
    public func createDatabase(_ name: String) throws -> String {
        try run("createdb", ["-h", folder.path, "-p", "\(port)", "-U", user, name])
        return "postgres://\(user)@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL through `psql` (for tests that tamper with rows as another host would).
    public func psql(_ database: String, _ sql: String) throws {
        try run("psql", ["-h", folder.path, "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
    }

    /// Stops the server and removes its folder.
    public func stop() {
        _ = try? run("pg_ctl", ["-D", data.path, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: folder)
    }

    /// `$QAFT_PG_BIN`, else the newest /usr/lib/postgresql/N/bin (Debian keeps initdb and pg_ctl
    /// off PATH), else the folder of `initdb` on PATH.
    static func binaryDirectory() -> URL? {
        let fm = FileManager.default
        func usable(_ dir: String) -> Bool { ["initdb", "pg_ctl"].allSatisfy { fm.isExecutableFile(atPath: dir + "/" + $0) } }
        if let d = ProcessInfo.processInfo.environment["QAFT_PG_BIN"], usable(d) { return URL(fileURLWithPath: d) }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(by: >)
        if let v = versions.first(where: { usable("/usr/lib/postgresql/\($0)/bin") }) {
            return URL(fileURLWithPath: "/usr/lib/postgresql/\(v)/bin")
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) where usable(dir) {
            return URL(fileURLWithPath: dir)
        }
        return nil
    }

    /// Runs one PostgreSQL program (as `runAs` when root); throws with its output when it fails.
    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let exe = binaries.appendingPathComponent(program).path
        let runuser = FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser"
        let argv = runAs.map { [runuser, "-u", $0, "--", exe] } ?? [exe]
        let output = folder.appendingPathComponent("\(program).out")
        let status = try Self.spawnAndWait(argv + arguments, output: output)
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let log = (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw PostgresServerError("\(program) \(arguments.joined(separator: " ")) exited \(status): \(text)\n\(log)")
        }
        return text
    }

    /// posix_spawn + waitpid, output to a file. Not Foundation's Process: the postmaster that
    /// `pg_ctl start` forks would inherit the descriptor Process watches for the child's end (and
    /// any pipe), so Process would wait for the server's whole life.
    static func spawnAndWait(_ argv: [String], output: URL) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw PostgresServerError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw PostgresServerError("waitpid \(argv[0]): \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS by hand (they are macros): low 7 bits 0 means a normal exit.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// A loopback port nobody listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresServerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PostgresServerError("bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A failure starting or driving the test server, with the program's output.
public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A test class's PostgreSQL server: started on first use, one fresh database per test, stopped
/// by the class's `tearDown` through `stop()`. When the server cannot start, every test asking
/// for it fails with the reason (the start is not retried for each).
public final class ClassPostgres {
    private var server: PostgresServer?
    private var failure: Error?

    public init() {}

    /// The server, started on first use.
    public func started() throws -> PostgresServer {
        if let server { return server }
        if let failure { throw failure }
        do {
            server = try PostgresServer.start()
            return server!
        } catch {
            failure = error
            XCTFail("PostgreSQL could not be started: \(error)")
            throw error
        }
    }

    /// Creates the database `name` (a test's name: its letters and digits, lowercased); returns its URL.
    public func database(_ name: String) throws -> String {
        try started().createDatabase(name.filter { $0.isLetter || $0.isNumber }.lowercased())
    }

    public func stop() {
        server?.stop()
        server = nil
    }
}
