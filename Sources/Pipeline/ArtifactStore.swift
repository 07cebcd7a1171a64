import Foundation

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

    /// A fresh, empty staging directory owned by this process (its name carries the pid, so `gc`
    /// can tell leftovers of dead runs from live ones).
    func makeStaging(for key: StageKey) throws -> URL {
        let d = stagingDirectory.appendingPathComponent("\(key.short)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
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
        try Durable.syncTree(staging)
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

    /// Staging directories whose owning process is gone.
    func abandonedStaging() throws -> [URL] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: stagingDirectory.path) else { return [] }
        return try fm.contentsOfDirectory(atPath: stagingDirectory.path).sorted().compactMap { name in
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = Int32(parts[1]), !ProcessLiveness.isAlive(pid) else { return nil }
            return stagingDirectory.appendingPathComponent(name)
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
