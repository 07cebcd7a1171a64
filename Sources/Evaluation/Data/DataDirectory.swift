import Foundation

/// The vendored data folder (Experiments/Data) with its SHA256SUMS. Every read verifies the file's
/// sha256 against the list before anything parses it, so a result can only come from the exact bytes
/// SOURCES.md describes; `.gz` files are verified as stored, then gunzipped.
public struct DataDirectory: Sendable {
    public let root: URL
    /// Relative path (without "./") → expected lower-case hex sha256.
    public let checksums: [String: String]
    public static let checksumFile = "SHA256SUMS"

    /// Reads `root/SHA256SUMS` (the `sha256sum` output format: digest, two spaces, "./path").
    public init(root: URL) throws {
        self.root = root
        let listURL = root.appendingPathComponent(Self.checksumFile)
        guard let data = FileManager.default.contents(atPath: listURL.path) else {
            throw EvaluationError.fileNotFound(file: listURL.path)
        }
        var sums: [String: String] = [:]
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) else {
                throw EvaluationError.malformedChecksumList(file: listURL.path, line: i + 1)
            }
            // sha256sum writes " *" for binary mode and "  " for text mode; both name the same file.
            var path = Substring(parts[1].drop(while: { $0 == " " || $0 == "*" }))
            if path.hasPrefix("./") { path = path.dropFirst(2) }
            sums[String(path)] = parts[0].lowercased()
        }
        checksums = sums
    }

    /// The repository's own copy, Experiments/Data under `repositoryRoot`.
    public static func vendored(repositoryRoot: URL) throws -> DataDirectory {
        try DataDirectory(root: repositoryRoot.appendingPathComponent("Experiments/Data"))
    }

    /// The verified bytes of `path` (relative to the root), gunzipped when it ends in `.gz`.
    public func bytes(_ path: String) throws -> [UInt8] {
        let url = root.appendingPathComponent(path)
        guard let expected = checksums[path] else {
            throw EvaluationError.notInChecksumList(file: path, list: root.appendingPathComponent(Self.checksumFile).path)
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EvaluationError.fileNotFound(file: url.path)
        }
        let raw = [UInt8](data)
        let found = Checksum.sha256Hex(raw)
        guard found == expected else { throw EvaluationError.checksumMismatch(file: url.path, expected: expected, found: found) }
        return path.hasSuffix(".gz") ? try Gzip.decompress(raw, file: url.path) : raw
    }

    /// The verified file as UTF-8 text; invalid UTF-8 is an error, never silently replaced.
    public func text(_ path: String) throws -> String {
        let b = try bytes(path)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw EvaluationError.notUTF8(file: path, offset: Self.firstInvalidUTF8Offset(b))
        }
        return s
    }

    private static func firstInvalidUTF8Offset(_ b: [UInt8]) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var it = b.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput, .error: return offset
            }
        }
    }
}
