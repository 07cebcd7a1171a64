import Foundation
import Tensor

/// Writes a GGUF v3 file (little-endian): header, metadata, tensor table, then each tensor's data
/// at an offset aligned to `alignment` (32, GGUF's default, so no `general.alignment` key is
/// needed). Metadata keep insertion order; tensor names must be unique.
public struct GGUFWriter {
    public static let alignment = 32
    private var metadata: [(String, GGUFValue)] = []
    private var tensors: [(name: String, dims: [Int], type: GGMLType, data: [UInt8])] = []

    public init() {}

    /// Sets (or replaces) a metadata value. Arrays must be non-nested and of one element type.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }

    /// Adds a tensor; `dims` are in GGUF order (innermost first) and `data` must hold exactly
    /// the bytes `type` needs for them.
    public mutating func addTensor(_ name: String, dims: [Int], type: GGMLType, data: [UInt8]) throws {
        try Self.check(name, dims: dims, type: type, data: data)
        guard !tensors.contains(where: { $0.name == name }) else {
            throw ModelFormatError.corrupt(file: "(GGUF being written)", what: "tensor '\(name)'", offset: 0, reason: "duplicate name")
        }
        tensors.append((name, dims, type, data))
    }

    /// Stores tensor `name` (already added) as `data` of `type` instead, same dims and place: an
    /// export re-encoding a float tensor of `LlamaWeights.ggufWriter` in a compact type.
    public mutating func replaceTensor(_ name: String, type: GGMLType, data: [UInt8]) throws {
        guard let i = tensors.firstIndex(where: { $0.name == name }) else {
            throw ModelFormatError.missingTensor(file: "(GGUF being written)", tensor: name)
        }
        try Self.check(name, dims: tensors[i].dims, type: type, data: data)
        (tensors[i].type, tensors[i].data) = (type, data)
    }

    private static func check(_ name: String, dims: [Int], type: GGMLType, data: [UInt8]) throws {
        let block = type.blockGeometry
        let elements = dims.reduce(1, *)
        guard (1...4).contains(dims.count), dims.allSatisfy({ $0 > 0 }), dims[0] % block.values == 0,
              elements / block.values * block.bytes == data.count else {
            throw ModelFormatError.shapeMismatch(file: "(GGUF being written)", tensor: name, expected: dims, found: [data.count])
        }
    }

    /// F32 tensor from floats.
    public mutating func addTensor(_ name: String, dims: [Int], floats: [Float]) throws {
        try addTensor(name, dims: dims, type: .f32, data: floats.withUnsafeBytes { Array($0) })
    }

    /// The whole file's bytes.
    public func encoded() throws -> [UInt8] {
        var out = try header()
        for t in tensors {
            out += t.data
            out += [UInt8](repeating: 0, count: Self.padded(t.data.count) - t.data.count)
        }
        return out
    }

    /// Writes the file durably (`Durable.replace`: a temporary name beside `url`, renamed into
    /// place), streaming each tensor's bytes from where they are held (no second copy of the whole
    /// file in memory).
    public func write(to url: URL) throws {
        try Durable.replace(url) { temporary in
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw Durable.Failure(path: temporary.path, reason: "cannot create")
            }
            let file = try FileHandle(forWritingTo: temporary)
            defer { try? file.close() }
            try file.write(contentsOf: try header())
            let zeros = [UInt8](repeating: 0, count: Self.alignment)
            for t in tensors {
                try file.write(contentsOf: t.data)
                try file.write(contentsOf: zeros[0..<(Self.padded(t.data.count) - t.data.count)])
            }
        }
    }

    /// Header, metadata and tensor table, padded to where the first tensor's data starts.
    private func header() throws -> [UInt8] {
        var out = Array("GGUF".utf8)
        append(UInt32(3), &out)
        append(UInt64(tensors.count), &out)
        append(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            appendString(key, &out)
            try appendValue(value, key: key, &out, tagged: true)
        }
        var offset = 0
        for t in tensors {
            appendString(t.name, &out)
            append(UInt32(t.dims.count), &out)
            for d in t.dims { append(UInt64(d), &out) }
            append(t.type.rawValue, &out)
            append(UInt64(offset), &out)
            offset += Self.padded(t.data.count)
        }
        out += [UInt8](repeating: 0, count: Self.padded(out.count) - out.count)
        return out
    }

    private static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func append<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private func appendString(_ s: String, _ out: inout [UInt8]) {
        append(UInt64(s.utf8.count), &out)
        out += Array(s.utf8)
    }

    private func appendValue(_ v: GGUFValue, key: String, _ out: inout [UInt8], tagged: Bool) throws {
        if tagged { append(Self.tag(v), &out) }
        switch v {
        case .uint8(let x): append(x, &out)
        case .int8(let x): append(x, &out)
        case .uint16(let x): append(x, &out)
        case .int16(let x): append(x, &out)
        case .uint32(let x): append(x, &out)
        case .int32(let x): append(x, &out)
        case .uint64(let x): append(x, &out)
        case .int64(let x): append(x, &out)
        case .float32(let x): append(x.bitPattern, &out)
        case .float64(let x): append(x.bitPattern, &out)
        case .bool(let x): append(UInt8(x ? 1 : 0), &out)
        case .string(let s): appendString(s, &out)
        case .array(let items):
            let tag = items.first.map(Self.tag) ?? 0
            guard items.allSatisfy({ Self.tag($0) == tag && $0.array == nil }) else {
                throw ModelFormatError.invalidConfig(file: "(GGUF being written)", field: key,
                                                     reason: "arrays must be flat and of one element type")
            }
            append(tag, &out)
            append(UInt64(items.count), &out)
            for item in items { try appendValue(item, key: key, &out, tagged: false) }
        }
    }

    private static func tag(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }
}
