import Foundation

/// Writes a safetensors file: an 8-byte little-endian header length, a JSON header (tensors in
/// name order, the header padded with spaces to a multiple of 8 bytes as the reference writer does,
/// so every tensor's data starts 8-byte aligned), then each tensor's little-endian bytes in the same
/// order. The same tensors always give the same bytes.
public struct SafetensorsWriter {
    private var tensors: [String: (dtype: SafetensorsDType, shape: [Int], data: [UInt8])] = [:]
    private var metadata: [String: String] = [:]

    public init() {}

    /// Sets a `__metadata__` string entry.
    public mutating func setMetadata(_ key: String, _ value: String) { metadata[key] = value }

    /// Adds a tensor whose `data` holds exactly the bytes of `shape` in `dtype`, row-major.
    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], data: [UInt8]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * dtype.byteSize == data.count else {
            throw ModelFormatError.shapeMismatch(file: "(safetensors being written)", tensor: name,
                                                 expected: shape, found: [data.count / dtype.byteSize])
        }
        guard tensors[name] == nil, name != "__metadata__" else {
            throw ModelFormatError.corrupt(file: "(safetensors being written)", what: "tensor '\(name)'", offset: 0,
                                           reason: "duplicate or reserved name")
        }
        tensors[name] = (dtype, shape, data)
    }

    /// Adds an F32 tensor.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try add(name, dtype: .f32, shape: shape, data: floats.withUnsafeBytes { Array($0) })
    }

    /// Adds an F16 tensor from half-precision bit patterns.
    public mutating func add(_ name: String, shape: [Int], halves: [UInt16]) throws {
        try add(name, dtype: .f16, shape: shape, data: halves.map(\.littleEndian).withUnsafeBytes { Array($0) })
    }

    /// Adds an I32 tensor.
    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) throws {
        try add(name, dtype: .i32, shape: shape, data: int32s.map(\.littleEndian).withUnsafeBytes { Array($0) })
    }

    /// The whole file's bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.data.count]]
            offset += t.data.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        json += [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        out += json
        for name in names { out += tensors[name]!.data }
        return out
    }

    /// Writes the file at `url` (callers that need atomicity write into a temporary folder).
    public func write(to url: URL) throws {
        try Data(try encoded()).write(to: url)
    }
}
