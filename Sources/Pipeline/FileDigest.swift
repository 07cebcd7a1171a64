import Crypto
import Evaluation
import Foundation

/// sha256 of file contents and of directory trees, streamed in 1 MiB reads.
public enum FileDigest {
    public static func sha256(of url: URL) throws -> String {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw PipelineError.artifact(path: url.path, reason: "cannot open for reading")
        }
        defer { try? h.close() }
        var hasher = SHA256()
        while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Checksum.hex(hasher.finalize())
    }

    /// A data input's digest: `sha256` for a file, `tree` for a directory (e.g. MMLU's 114 CSVs).
    public static func content(of url: URL) throws -> String {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        return isDirectory.boolValue ? try tree(url) : try sha256(of: url)
    }

    /// Digest of a directory: sha256 over `relative path \0 size \0 sha256 \n` of every regular file,
    /// sorted by path, so it depends on names and contents only (not on timestamps or order).
    public static func tree(_ dir: URL) throws -> String {
        var hasher = SHA256()
        for (rel, url) in try files(in: dir) {
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            hasher.update(data: Data("\(rel)\u{0}\(size)\u{0}\(try sha256(of: url))\n".utf8))
        }
        return Checksum.hex(hasher.finalize())
    }

    /// Regular files under `dir` as (relative path, URL), sorted; symbolic links are refused
    /// because their targets could change under a content-addressed name.
    public static func files(in dir: URL) throws -> [(String, URL)] {
        let fm = FileManager.default
        var out: [(String, URL)] = []
        guard let e = fm.enumerator(atPath: dir.path) else { return [] }
        while let rel = e.nextObject() as? String {
            let u = dir.appendingPathComponent(rel)
            let type = try fm.attributesOfItem(atPath: u.path)[.type] as? FileAttributeType
            if type == .typeSymbolicLink { throw PipelineError.artifact(path: u.path, reason: "symbolic links are not allowed in artifacts") }
            if type == .typeRegular { out.append((rel, u)) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

}
