import Foundation
import Tensor

/// A stage's resumable state, in `checkpoints/<stage key>/` under the cache. Keyed by the stage
/// key, so a checkpoint can only ever be resumed by the identical computation; each save replaces
/// the previous one atomically, so a kill leaves the last complete checkpoint. The runner deletes
/// the directory once the stage's result is committed.
public struct CheckpointDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    /// Replaces the checkpoint `name` with `value` (durably; see `Durable`).
    public func save<T: Encodable>(_ value: T, as name: String = "state") throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Durable.write(try JSONEncoder().encode(value), to: url.appendingPathComponent(name + ".json"))
    }

    /// The last saved checkpoint `name`, or nil if none was completed.
    public func load<T: Decodable>(_ type: T.Type, as name: String = "state") throws -> T? {
        let f = url.appendingPathComponent(name + ".json")
        guard let data = FileManager.default.contents(atPath: f.path) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw PipelineError.artifact(path: f.path, reason: "unreadable checkpoint: \(error)")
        }
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    func remove() throws {
        if exists { try FileManager.default.removeItem(at: url) }
    }
}
