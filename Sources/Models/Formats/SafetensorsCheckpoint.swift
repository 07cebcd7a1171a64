import Foundation

/// The safetensors weights of a Hugging Face model folder: a single `model.safetensors`, or the
/// shards listed in `model.safetensors.index.json`. Each shard is opened (mapped) once.
public struct SafetensorsCheckpoint: Sendable {
    public static let singleFile = "model.safetensors"
    public static let indexFile = "model.safetensors.index.json"

    public let folder: URL
    /// The file that says where tensors are (the single file or the index), named by missing-tensor errors.
    public let source: String
    private let fileOfTensor: [String: SafetensorsFile]

    public init(folder: URL) throws {
        self.folder = folder
        let index = folder.appendingPathComponent(Self.indexFile)
        let single = folder.appendingPathComponent(Self.singleFile)
        if FileManager.default.fileExists(atPath: index.path) {
            source = index.path
            let weightMap = try JSONObject(contentsOf: index).object("weight_map")
            var shards: [String: SafetensorsFile] = [:]
            var map: [String: SafetensorsFile] = [:]
            for name in weightMap.keys {
                let shardName = try weightMap.string(name)
                if shards[shardName] == nil {
                    shards[shardName] = try SafetensorsFile(contentsOf: folder.appendingPathComponent(shardName))
                }
                map[name] = shards[shardName]
            }
            fileOfTensor = map
        } else if FileManager.default.fileExists(atPath: single.path) {
            source = single.path
            let file = try SafetensorsFile(contentsOf: single)
            fileOfTensor = file.tensors.mapValues { _ in file }
        } else {
            throw ModelFormatError.fileNotFound(file: single.path)
        }
    }

    public func contains(_ name: String) -> Bool { fileOfTensor[name] != nil }

    /// The float32 values of tensor `name`, whose shape must be `shape`.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let file = fileOfTensor[name] else { throw ModelFormatError.missingTensor(file: source, tensor: name) }
        let info = try file.tensor(name)
        guard info.shape == shape else {
            throw ModelFormatError.shapeMismatch(file: file.url.path, tensor: name, expected: shape, found: info.shape)
        }
        return try file.floats(info)
    }
}
