import Crypto
import Foundation

/// An append-only file of scored batches, so an evaluation stopped part-way (killed, out of time)
/// resumes where it stopped instead of starting over: a full-set HellaSwag or 5-shot MMLU takes
/// hours on two cores.
///
/// The first line names the run: a sha256 over the caller's `identity` (model content, scorer
/// settings), the batch size and every request in scoring order. Each further line is one batch:
/// its first position in that order, then per request the log-likelihood's IEEE bit pattern and
/// the greedy flag. Batches are fixed slices of a deterministic order, so a resumed run scores
/// exactly the batches an uninterrupted one would, and its results are bit-identical.
///
/// A journal written for another run (different model, task, selection or settings) is replaced,
/// never mixed in; a torn last line (the process died mid-write) is cut off and that batch rescored.
public final class ScoreJournal {
    public let url: URL
    /// What besides the requests decides the results, e.g. the model file's sha256 and max length.
    public let identity: String
    private var handle: FileHandle?

    /// v2: batches scored from an empty cache each (`ModelScorer`), so v1's are not mixed in.
    static let magic = "qaft-score-journal v2"

    public init(url: URL, identity: String) {
        self.url = url
        self.identity = identity
    }

    deinit { try? handle?.close() }

    /// The run's key: everything that decides which results the batches hold.
    func key(requests: [LogLikelihoodRequest], order: [Int], batchSize: Int) -> String {
        var h = SHA256()
        h.update(data: Data("\(identity)\n\(batchSize)\n".utf8))
        var words: [Int32] = []
        for i in order {
            let r = requests[i]
            words.removeAll(keepingCapacity: true)
            words.append(Int32(r.context.count))
            words += r.context.lazy.map { Int32(truncatingIfNeeded: $0) }
            words.append(Int32(r.continuation.count))
            words += r.continuation.lazy.map { Int32(truncatingIfNeeded: $0) }
            words.withUnsafeBytes { h.update(bufferPointer: $0) }
        }
        return Checksum.hex(h.finalize())
    }

    /// Opens the journal for the run `requests` (scored in `order`, `batchSize` at a time) and
    /// returns the batches already scored, keyed by their first position in `order`. Starts a new
    /// journal if there is none or it belongs to another run.
    public func open(requests: [LogLikelihoodRequest], order: [Int], batchSize: Int) throws -> [Int: [LogLikelihoodResult]] {
        let header = "\(Self.magic) \(key(requests: requests, order: order, batchSize: batchSize))\n"
        var batches: [Int: [LogLikelihoodResult]] = [:]
        var keep = 0
        if let text = try? String(contentsOf: url, encoding: .utf8), text.hasPrefix(header) {
            keep = header.utf8.count
            var rest = text.utf8.dropFirst(keep)
            while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                guard let (start, results) = Self.parse(Substring(rest[..<newline])),
                      start % batchSize == 0, start < order.count,
                      results.count == min(batchSize, order.count - start) else { break }
                batches[start] = results
                keep += rest.distance(from: rest.startIndex, to: newline) + 1
                rest = rest[rest.index(after: newline)...]
            }
        } else {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(header.utf8).write(to: url, options: .atomic)
            keep = header.utf8.count
        }
        let h = try FileHandle(forUpdating: url)
        try h.truncate(atOffset: UInt64(keep))
        try h.seekToEnd()
        handle = h
        return batches
    }

    /// Records one scored batch and flushes it to disk.
    public func append(start: Int, results: [LogLikelihoodResult]) throws {
        guard let handle else { preconditionFailure("ScoreJournal.append before open") }
        var line = "\(start)"
        for r in results { line += " \(String(r.logLikelihood.bitPattern, radix: 16)):\(r.isGreedy ? 1 : 0)" }
        try handle.write(contentsOf: Data((line + "\n").utf8))
        try handle.synchronize()
    }

    /// Deletes the journal once the run's results are safely written elsewhere.
    public func remove() throws {
        try handle?.close()
        handle = nil
        try FileManager.default.removeItem(at: url)
    }

    /// Writes the batches of the shard journals `sources` (`Evaluator.score(_:scorers:shard:)`,
    /// same run: same first line) as one journal at `url`, which a run then reads instead of
    /// scoring. Written to a temporary name and renamed.
    public static func merge(_ sources: [URL], into url: URL) throws {
        var header: Substring?, lines: [Substring] = []
        for source in sources {
            guard let text = try? String(contentsOf: source, encoding: .utf8), let end = text.firstIndex(of: "\n"),
                  text.hasPrefix(magic + " ") else {
                throw EvaluationError.journalMismatch(file: source.path, reason: "not a score journal")
            }
            let first = text[...end]
            if let header, header != first {
                throw EvaluationError.journalMismatch(file: source.path, reason: "journal of another run than \(sources[0].path)")
            }
            header = first
            lines += text[text.index(after: end)...].split(separator: "\n").filter { parse($0) != nil }
        }
        guard let header else { throw EvaluationError.journalMismatch(file: url.path, reason: "no shard journals to merge") }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((header + lines.map { $0 + "\n" }.joined()).utf8).write(to: url, options: .atomic)
    }

    static func parse(_ line: Substring) -> (Int, [LogLikelihoodResult])? {
        let fields = line.split(separator: " ")
        guard let first = fields.first, let start = Int(first) else { return nil }
        var results: [LogLikelihoodResult] = []
        results.reserveCapacity(fields.count - 1)
        for f in fields.dropFirst() {
            let parts = f.split(separator: ":")
            guard parts.count == 2, let bits = UInt64(parts[0], radix: 16), parts[1] == "0" || parts[1] == "1" else { return nil }
            results.append(LogLikelihoodResult(logLikelihood: Double(bitPattern: bits), isGreedy: parts[1] == "1"))
        }
        return (start, results)
    }
}
