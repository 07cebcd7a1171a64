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

    /// Checks the database (SQLite integrity check; every row decodes and its key equals the hash
    /// of its stored components) and every artifact (present, digest matches its name).
    public func check() throws -> [Problem] {
        var problems: [Problem] = []
        let sqlite = try sqliteIntegrity()
        if sqlite != ["ok"] { problems.append(Problem(isCorruption: true, message: "sqlite: " + sqlite.joined(separator: "; "))) }
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
        for s in try store.abandonedStaging() {
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

    /// Removes artifacts no result references, staging directories and claims of dead processes,
    /// and checkpoints of stages already committed. Unfinished checkpoints stay: they are how a
    /// killed run resumes.
    public func collectGarbage() throws -> Collected {
        var c = Collected()
        c.claims = try dropDeadClaims()
        let fm = FileManager.default
        for s in try store.abandonedStaging() {
            try fm.removeItem(at: s)
            c.staging += 1
        }
        let results = try allResults()
        let referenced = Set(results.compactMap(\.record.artifact)), finished = Set(results.map(\.record.key.hex))
        let live = Set(try claims().keys.map(\.hex))
        for d in try store.allDigests() where !referenced.contains(d) {
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
