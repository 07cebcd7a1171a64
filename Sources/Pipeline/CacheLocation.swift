import Foundation

/// Which cache a command uses: a SQLite directory on this machine (the default), or a PostgreSQL
/// database shared by many hosts with its artifacts and checkpoints in a shared folder.
public enum CacheLocation: Sendable, Equatable {
    /// `cache.sqlite`, `artifacts/`, `staging/` and `checkpoints/` under one directory.
    case sqlite(directory: URL)
    /// The tables in PostgreSQL; `artifacts/`, `staging/` and `checkpoints/` under `artifacts`,
    /// which every host must see at the same path.
    case postgres(PostgresAddress, artifacts: URL)

    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.sqlite(x), .sqlite(y)): return x == y
        case let (.postgres(x, ax), .postgres(y, ay)): return x.description == y.description && ax == ay
        default: return false
        }
    }

    /// `--cache` else `$QAFT_CACHE` else `.cache/qaft` under `base`; a `postgres://` URL selects
    /// PostgreSQL, which needs `--artifacts` else `$QAFT_ARTIFACTS`.
    public static func resolve(cache: String?, artifacts: String?, base: URL,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CacheLocation {
        func given(_ option: String?, _ variable: String) -> (value: String, source: String)? {
            if let o = option, !o.isEmpty { return (o, "--" + (variable == "QAFT_CACHE" ? "cache" : "artifacts")) }
            if let e = environment[variable], !e.isEmpty { return (e, "$" + variable) }
            return nil
        }
        let shared = given(artifacts, "QAFT_ARTIFACTS")
        guard let c = given(cache, "QAFT_CACHE") else {
            if let s = shared { throw misplacedArtifacts(s.source) }
            return .sqlite(directory: base.appendingPathComponent(".cache/qaft"))
        }
        guard PostgresAddress.isPostgres(c.value) else {
            if let s = shared { throw misplacedArtifacts(s.source) }
            return .sqlite(directory: URL(fileURLWithPath: c.value, relativeTo: base).standardizedFileURL)
        }
        let address = try PostgresAddress(url: c.value)
        guard let s = shared else {
            throw PipelineError.cache(path: address.description,
                                      reason: "a PostgreSQL cache needs a folder for artifacts and checkpoints that every host sees: give --artifacts DIR or set QAFT_ARTIFACTS")
        }
        return .postgres(address, artifacts: URL(fileURLWithPath: s.value, relativeTo: base).standardizedFileURL)
    }

    private static func misplacedArtifacts(_ source: String) -> PipelineError {
        .cache(path: source, reason: "a shared artifact folder applies to a PostgreSQL cache only (--cache postgres://…); a SQLite cache keeps its artifacts in its own directory")
    }

    /// Where artifacts, staging and checkpoints live.
    public var artifactRoot: URL {
        switch self {
        case .sqlite(let d): return d
        case .postgres(_, let a): return a
        }
    }

    /// For messages: the cache directory or the database URL (without password).
    public var description: String {
        switch self {
        case .sqlite(let d): return d.path
        case let .postgres(a, artifacts): return "\(a) (artifacts in \(artifacts.path))"
        }
    }
}
