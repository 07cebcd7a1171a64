import Foundation
import Tensor

/// A training checkpoint on disk: everything needed to continue a run bit for bit (trainable
/// parameters, optimizer state, step, generator state, data cursor).
///
/// Layout (little-endian): "QAFTCKPT" · u32 version · u32 header length · header (JSON of
/// integers and names only: step, cursor, generator words, tensor table) · the tensors as raw
/// float32 in table order · u64 FNV-1a of every preceding byte. Written with `Durable.write`, so a
/// killed process leaves the old checkpoint or the new one, never a torn file.
public enum Checkpoint {
    public static let magic = Array("QAFTCKPT".utf8)
    public static let version: UInt32 = 1

    public struct Header: Codable, Equatable {
        public struct Entry: Codable, Equatable {
            public var name: String
            public var count: Int
        }
        public var step: Int
        public var cursor: DataCursor
        public var random: SeededRandom
        public var tensors: [Entry]
        /// Fingerprint of the run that wrote it (training settings and data; see
        /// `Trainer.fingerprint`), so a checkpoint is never resumed into a different run.
        public var run: String?
    }

    /// A named run of floats to save from, or restore into.
    public typealias Tensor = (name: String, buffer: FloatBuffer, count: Int)

    public static func write(_ url: URL, step: Int, cursor: DataCursor, random: SeededRandom, tensors: [Tensor],
                             run: String? = nil) throws {
        let header = Header(step: step, cursor: cursor, random: random,
                            tensors: tensors.map { Header.Entry(name: $0.name, count: $0.count) }, run: run)
        let json = try JSONEncoder().encode(header)
        var out = Data(magic)
        append(&out, version)
        append(&out, UInt32(json.count))
        out.append(json)
        for t in tensors {
            // Float32 bit patterns, little-endian as on every platform Swift targets here.
            out.append(UnsafeBufferPointer(start: t.buffer.pointer, count: t.count))
        }
        append(&out, fnv1a(out))
        try Durable.write(out, to: url)
    }

    /// Reads `url`, checks it, and copies each tensor into the buffer of the same name, which must
    /// exist in `tensors` with the same count (and vice versa). With `expectingRun`, a checkpoint
    /// that records a different run fingerprint is refused. Returns the header.
    public static func read(_ url: URL, into tensors: [Tensor], expectingRun: String? = nil) throws -> Header {
        let file = url.path
        guard let data = FileManager.default.contents(atPath: file) else { throw TrainingError.dataFileNotFound(file: file) }
        func corrupt(_ why: String) -> TrainingError { .checkpointCorrupt(file: file, reason: why) }
        guard data.count >= 24, Array(data.prefix(8)) == magic else { throw corrupt("not a qaft checkpoint (bad magic)") }
        let stored: UInt64 = load(data, data.count - 8)
        guard stored == fnv1a(data.prefix(data.count - 8)) else { throw corrupt("checksum mismatch (truncated or damaged)") }
        let v: UInt32 = load(data, 8)
        guard v == version else { throw corrupt("format version \(v), expected \(version)") }
        let headerLength = Int(load(data, 12) as UInt32)
        guard 16 + headerLength <= data.count - 8 else { throw corrupt("header length \(headerLength) past end of file") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data.subdata(in: 16..<(16 + headerLength)))
        } catch {
            throw corrupt("unreadable header: \(error)")
        }
        if let expected = expectingRun, let run = header.run, run != expected {
            throw TrainingError.checkpointMismatch(
                file: file, reason: "written by a different run (training settings or data changed: fingerprint \(run), this run \(expected))")
        }
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let saved = Set(header.tensors.map(\.name))
        if let missing = tensors.first(where: { !saved.contains($0.name) }) {
            throw TrainingError.checkpointMismatch(file: file, reason: "no tensor '\(missing.name)' in the checkpoint")
        }
        let total = header.tensors.reduce(0) { $0 + $1.count * 4 }
        guard 16 + headerLength + total == data.count - 8 else { throw corrupt("tensor table does not match the file size") }
        for e in header.tensors {
            guard let t = byName[e.name] else {
                throw TrainingError.checkpointMismatch(file: file, reason: "checkpoint tensor '\(e.name)' is not part of this run")
            }
            guard t.count == e.count else {
                throw TrainingError.checkpointMismatch(file: file, reason: "'\(e.name)' has \(e.count) values, this run expects \(t.count)")
            }
        }
        // Only a fully checked file touches the buffers, so a failed restore leaves the run as it was.
        var offset = 16 + headerLength
        for e in header.tensors {
            let t = byName[e.name]!
            data.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(t.buffer.pointer).copyMemory(from: raw.baseAddress! + offset, byteCount: e.count * 4)
            }
            offset += e.count * 4
        }
        return header
    }

    private static func append<T: FixedWidthInteger>(_ d: inout Data, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) }
    }

    private static func load<T: FixedWidthInteger>(_ d: Data, _ offset: Int) -> T {
        d.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    static func fnv1a<D: DataProtocol>(_ d: D) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for region in d.regions {
            region.withUnsafeBytes { raw in
                for b in raw { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
            }
        }
        return h
    }
}
