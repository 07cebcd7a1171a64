import Foundation

/// Element types a safetensors header may name. Only the float types can be read as weights.
public enum SafetensorsDType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    var dequantizer: ((UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void)? {
        switch self {
        case .f32: return { Dequantize.f32($0, $1, count: $2) }
        case .f16: return { Dequantize.f16($0, $1, count: $2) }
        case .bf16: return { Dequantize.bf16($0, $1, count: $2) }
        default: return nil
        }
    }
}

/// One tensor of a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major shape, outermost first (a linear weight is (out, in)).
    public let shape: [Int]
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    public let byteCount: Int
}

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data. Opening validates every entry
/// (known dtype, byte range matching the shape and inside the file) without reading tensor data.
public final class SafetensorsFile: @unchecked Sendable {
    public let url: URL
    public let tensors: [String: SafetensorsTensorInfo]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]

    private let file: MappedFile

    public init(contentsOf url: URL) throws {
        self.url = url
        file = try MappedFile(url)
        let path = file.path
        var r = ByteReader(file)
        let headerLength = try r.count("header length")
        let header = try r.bytes(headerLength, "header JSON")
        let dataStart = r.offset
        let json = try JSONObject(data: Data(header), file: path, what: "header JSON", offset: 8)

        var metadata: [String: String] = [:]
        var tensors: [String: SafetensorsTensorInfo] = [:]
        for name in json.keys {
            if name == "__metadata__" {
                let m = try json.object(name)
                for k in m.keys { metadata[k] = try m.string(k) }
                continue
            }
            let entry = try json.object(name)
            let dtypeName = try entry.string("dtype")
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw ModelFormatError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
            }
            let shape = try entry.ints("shape")
            let range = try entry.ints("data_offsets")
            func corrupt(_ reason: String) -> ModelFormatError {
                .corrupt(file: path, what: "header entry of tensor '\(name)'", offset: 8, reason: reason)
            }
            guard range.count == 2, range[0] >= 0, range[1] >= range[0] else {
                throw corrupt("data_offsets \(range) is not a [begin, end] byte range")
            }
            guard let n = checkedProduct(shape), case let (bytes, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize),
                  !overflow, bytes == range[1] - range[0]
            else {
                throw corrupt("shape \(shape) of \(dtypeName) does not fill data_offsets \(range)")
            }
            guard range[1] <= file.size - dataStart else {
                throw ModelFormatError.truncated(file: path, what: "data of tensor '\(name)'", offset: dataStart + range[0],
                                                 needed: bytes, fileSize: file.size)
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, offset: dataStart + range[0], byteCount: bytes)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`, or `missingTensor`.
    public func tensor(_ name: String) throws -> SafetensorsTensorInfo {
        guard let t = tensors[name] else { throw ModelFormatError.missingTensor(file: file.path, tensor: name) }
        return t
    }

    /// The tensor's values as float32 in row-major order.
    public func floats(_ info: SafetensorsTensorInfo) throws -> [Float] {
        guard let convert = info.dtype.dequantizer else {
            throw ModelFormatError.unsupportedDType(file: file.path, tensor: info.name, dtype: info.dtype.rawValue)
        }
        let src = try file.slice(info.offset, info.byteCount, "data of tensor '\(info.name)'")
        let n = info.byteCount / info.dtype.byteSize
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            if let s = src.baseAddress, let d = buf.baseAddress { convert(s, d, n) }
            count = n
        }
    }

    /// The values of the tensor called `name` as float32.
    public func floats(_ name: String) throws -> [Float] { try floats(try tensor(name)) }
}
