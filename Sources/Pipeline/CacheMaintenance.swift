import Foundation

/// `qaft check` and `qaft gc`: verifying and cleaning a cache.
extension Cache {
    /// A problem `check` found. `isCorruption` problems mean a result cannot be trusted; the rest
    /// are leftovers that `gc` removes.
    public struct Problem: Sendable, CustomStringConvertible {
        public let isCorruption: Bool
        public let message: String
        public var description: String { (isCorruption ? "CORRUPT " : "leftover ") + message }
    }

    /// Checks the database (the backend's own check: SQLite's integrity check, PostgreSQL's
    /// schema; every row decodes and its key equals the hash of its stored components) and every
    /// artifact (present, digest matches its name).
    public func check() throws -> [Problem] {
        var problems: [Problem] = []
        let integrity = try db.integrityCheck()
        if integrity != ["ok"] {
            problems.append(Problem(isCorruption: true, message: db.dialect.name + ": " + integrity.joined(separator: "; ")))
        }
        var referenced = Set<String>()
        for (record, label, components) in try allResults() {
            if components.key != record.key {
                problems.append(Problem(isCorruption: true, message: "\(label) [\(record.key.short)]: key does not match its components"))
            }
            if let a = record.artifact {
                referenced.insert(a)
                if let issue = store.verify(a) {
                    problems.append(Problem(isCorruption: true, message: "\(label) [\(record.key.short)]: artifact \(a.prefix(12)) \(issue)"))
                }
            }
        }
        for d in try store.allDigests() where !referenced.contains(d) {
            problems.append(Problem(isCorruption: false, message: "artifact \(d.prefix(12)) is referenced by no result"))
        }
        for s in try abandonedStaging() {
            problems.append(Problem(isCorruption: false, message: "staging \(s.lastPathComponent) of a dead process"))
        }
        return problems
    }

    /// What `gc` removed.
    public struct Collected: Sendable {
        public var artifacts = 0
        public var staging = 0
        public var checkpoints = 0
        public var claims = 0
    }

    /// Staging directories of dead runs: on this host, those whose process is gone (as before
    /// hosts were recorded); from another host, those whose owner holds no live claim on their key.
    private func abandonedStaging() throws -> [URL] {
        let live = try claims().filter { isLive($0.value) }
        return try store.abandonedStaging { prefix, owner in
            if owner.isLocal { return ProcessLiveness.isAlive(owner.pid) }
            return live.contains { $0.key.hex.hasPrefix(prefix) && $0.value.owner.pid == owner.pid && $0.value.owner.host == owner.host }
        }
    }

    /// Removes artifacts no result references, staging directories and claims of dead or silent owners,
    /// and checkpoints of stages already committed. Unfinished checkpoints stay: they are how a
    /// killed run resumes.
    public func collectGarbage() throws -> Collected {
        var c = Collected()
        c.claims = try dropDeadClaims()
        let fm = FileManager.default
        for s in try abandonedStaging() {
            try fm.removeItem(at: s)
            c.staging += 1
        }
        // Artifacts are listed before results are read: an artifact published by a live run after
        // the listing is not a candidate, one published before it is committed within milliseconds.
        let digests = try store.allDigests()
        let results = try allResults()
        let referenced = Set(results.compactMap(\.record.artifact)), finished = Set(results.map(\.record.key.hex))
        let live = Set(try claims().filter { isLive($0.value) }.keys.map(\.hex))
        for d in digests where !referenced.contains(d) {
            try fm.removeItem(at: store.url(of: d))
            c.artifacts += 1
        }
        let checkpoints = root.appendingPathComponent("checkpoints")
        if fm.fileExists(atPath: checkpoints.path) {
            for name in try fm.contentsOfDirectory(atPath: checkpoints.path) where finished.contains(name) && !live.contains(name) {
                try fm.removeItem(at: checkpoints.appendingPathComponent(name))
                c.checkpoints += 1
            }
        }
        return c
    }
}
