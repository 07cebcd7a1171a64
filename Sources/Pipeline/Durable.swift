import Foundation

/// Writes that survive a kill or power loss: data goes to a temporary name, is fsynced, and is
/// renamed over the target (rename is atomic on POSIX), then the directory entry is fsynced.
/// A reader therefore sees the old file or the new one, never a torn one.
public enum Durable {
    static func write(_ data: Data, to url: URL) throws {
        try replace(url) { tmp in
            guard FileManager.default.createFile(atPath: tmp.path, contents: data) else {
                throw PipelineError.artifact(path: tmp.path, reason: "cannot create")
            }
        }
    }

    /// Copies `source` to `url` the same way, so a kill mid-copy leaves no partial `url` (e.g. a
    /// command writing a cached artifact to a user's path).
    public static func copy(_ source: URL, to url: URL) throws {
        try replace(url) { tmp in try FileManager.default.copyItem(at: source, to: tmp) }
    }

    /// `write(tmp)` fills a temporary file beside `url`, which is then fsynced and renamed over it.
    private static func replace(_ url: URL, write: (URL) throws -> Void) throws {
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: tmp)
        do {
            try write(tmp)
            try sync(tmp)
            guard rename(tmp.path, url.path) == 0 else {
                throw PipelineError.artifact(path: url.path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        try sync(url.deletingLastPathComponent())
    }

    /// fsync of a file or a directory (for a directory this persists its entries).
    static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw PipelineError.artifact(path: url.path, reason: "open for fsync failed") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PipelineError.artifact(path: url.path, reason: "fsync failed") }
    }

    /// fsync of every file and directory under `dir`, deepest first, then `dir` itself.
    static func syncTree(_ dir: URL) throws {
        for (_, u) in try FileDigest.files(in: dir) { try sync(u) }
        if let e = FileManager.default.enumerator(atPath: dir.path) {
            var dirs: [URL] = []
            while let rel = e.nextObject() as? String {
                if e.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { dirs.append(dir.appendingPathComponent(rel)) }
            }
            for d in dirs.reversed() { try sync(d) }
        }
        try sync(dir)
    }
}
