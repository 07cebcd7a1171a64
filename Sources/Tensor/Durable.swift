import Foundation

/// Writes that survive a kill or power loss: data goes to a temporary name beside the target, is
/// fsynced, and is renamed over the target (rename is atomic on POSIX), then the directory entry is
/// fsynced. A reader therefore sees the old file or the new one, never a torn one. Every file qaft
/// writes for keeps (cache artifacts, checkpoints, GGUF exports) goes through `replace`.
public enum Durable {
    /// A write that failed: the path and what went wrong.
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
        public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
    }

    /// Writes `data` to `url`.
    public static func write(_ data: Data, to url: URL) throws {
        try replace(url) { tmp in
            guard FileManager.default.createFile(atPath: tmp.path, contents: data) else {
                throw Failure(path: tmp.path, reason: "cannot create")
            }
        }
    }

    /// Copies `source` to `url` the same way, so a kill mid-copy leaves no partial `url` (e.g. a
    /// command writing a cached artifact to a user's path).
    public static func copy(_ source: URL, to url: URL) throws {
        try replace(url) { tmp in try FileManager.default.copyItem(at: source, to: tmp) }
    }

    /// `write(tmp)` creates and fills a temporary file beside `url` (streaming, if it likes), which
    /// is then fsynced and renamed over `url`; on any error the temporary file is removed.
    public static func replace(_ url: URL, write: (URL) throws -> Void) throws {
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: tmp)
        do {
            try write(tmp)
            try sync(tmp)
            guard rename(tmp.path, url.path) == 0 else {
                throw Failure(path: url.path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        try sync(url.deletingLastPathComponent())
    }

    /// fsync of a file or a directory (for a directory this persists its entries).
    public static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw Failure(path: url.path, reason: "open for fsync failed") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(path: url.path, reason: "fsync failed") }
    }
}
