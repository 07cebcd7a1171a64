import Foundation
import Tensor

/// Large stage outputs (models, adapters, report files) as directories named by the digest of
/// their contents: `artifacts/<2 hex>/<64 hex>/`. A stage writes into a private staging
/// directory; `publish` fsyncs it and renames it into place in one step, so an artifact is either
/// complete or absent. Equal outputs share one directory.
public struct ArtifactStore: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    var artifactsDirectory: URL { root.appendingPathComponent("artifacts") }
    var stagingDirectory: URL { root.appendingPathComponent("staging") }

    public func url(of digest: String) -> URL {
        artifactsDirectory.appendingPathComponent(String(digest.prefix(2))).appendingPathComponent(digest)
    }

    /// A fresh, empty staging directory owned by this process. Its name carries the key, pid and
    /// host (`<key>-<pid>-<random>@<host>`), so `gc` on any host of a shared folder can tell
    /// leftovers of dead runs from live ones.
    func makeStaging(for key: StageKey) throws -> URL {
        let me = ClaimOwner.current
        let d = stagingDirectory.appendingPathComponent("\(key.short)-\(me.pid)-\(UInt32.random(in: 0...UInt32.max))@\(me.host)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// Moves a finished staging directory into the store; returns its digest, or nil (and removes
    /// the directory) when the stage wrote nothing.
    func publish(_ staging: URL) throws -> String? {
        let fm = FileManager.default
        if try FileDigest.files(in: staging).isEmpty {
            try fm.removeItem(at: staging)
            return nil
        }
        try Self.syncTree(staging)
        let digest = try FileDigest.tree(staging)
        let dest = url(of: digest)
        if fm.fileExists(atPath: dest.path) {
            try fm.removeItem(at: staging)
            return digest
        }
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard rename(staging.path, dest.path) == 0 else {
            // Another process published the same content between the check and the rename.
            if fm.fileExists(atPath: dest.path) { try fm.removeItem(at: staging); return digest }
            throw PipelineError.artifact(path: dest.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
        try Durable.sync(dest.deletingLastPathComponent())
        return digest
    }

    /// fsync of every file and directory under `dir`, deepest first, then `dir` itself.
    static func syncTree(_ dir: URL) throws {
        for (_, u) in try FileDigest.files(in: dir) { try Durable.sync(u) }
        if let e = FileManager.default.enumerator(atPath: dir.path) {
            var dirs: [URL] = []
            while let rel = e.nextObject() as? String {
                if e.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { dirs.append(dir.appendingPathComponent(rel)) }
            }
            for d in dirs.reversed() { try Durable.sync(d) }
        }
        try Durable.sync(dir)
    }

    /// Re-hashes an artifact; nil if intact, else what is wrong.
    public func verify(_ digest: String) -> String? {
        let u = url(of: digest)
        guard FileManager.default.fileExists(atPath: u.path) else { return "missing" }
        do {
            let actual = try FileDigest.tree(u)
            return actual == digest ? nil : "content digest is \(actual)"
        } catch {
            return "unreadable: \(error)"
        }
    }

    /// Digests of every artifact directory present.
    public func allDigests() throws -> [String] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: artifactsDirectory.path) else { return [] }
        var out: [String] = []
        for prefix in try fm.contentsOfDirectory(atPath: artifactsDirectory.path) where prefix.count == 2 {
            out += try fm.contentsOfDirectory(atPath: artifactsDirectory.appendingPathComponent(prefix).path)
        }
        return out.sorted()
    }

    /// Staging directories whose owner is gone: `isLive` is asked with the key prefix and owner
    /// its name records (names without a host are this host's, from before hosts were recorded).
    func abandonedStaging(isLive: (_ keyPrefix: String, _ owner: ClaimOwner) -> Bool) throws -> [URL] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: stagingDirectory.path) else { return [] }
        return try fm.contentsOfDirectory(atPath: stagingDirectory.path).sorted().compactMap { name in
            let at = name.split(separator: "@", maxSplits: 1)
            let parts = at[0].split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]) else { return nil }
            let owner = ClaimOwner(pid: pid, host: at.count == 2 ? String(at[1]) : "")
            return isLive(String(parts[0]), owner) ? nil : stagingDirectory.appendingPathComponent(name)
        }
    }
}

/// Whether a process id names a live process on this machine.
enum ProcessLiveness {
    static func isAlive(_ pid: Int32) -> Bool {
        if pid <= 0 { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}
