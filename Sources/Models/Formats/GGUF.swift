import Foundation

/// One entry of a GGUF tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in GGUF order, innermost (contiguous) first: a weight matrix is (in, out), which
    /// is (out, in) read as a row-major matrix.
    public let dims: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dims.reduce(1, *) }
}

/// A GGUF (v2/v3) file: metadata, tensor table, and float32 dequantization of F32, F16, BF16,
/// Q8_0, Q4_0 and Q4_1 tensors. The file is memory-mapped; opening it reads and validates the
/// header, all metadata and the tensor table (including that every tensor's data lies inside the
/// file) but no tensor data.
public final class GGUFFile: @unchecked Sendable {
    public let url: URL
    public let version: Int
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment` (default 32): tensor data starts and tensor offsets are multiples of it.
    public let alignment: Int
    /// Where the tensor data section starts.
    public let dataOffset: Int

    private let file: MappedFile
    private let tensorIndex: [String: Int]

    /// Nesting limit for metadata arrays: real files use at most two levels, and an unbounded
    /// recursion on crafted input would overflow the stack instead of throwing.
    private static let maxArrayDepth = 8

    public init(contentsOf url: URL) throws {
        self.url = url
        file = try MappedFile(url)
        var r = ByteReader(file)
        let path = file.path

        let magic = try r.bytes(4, "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw ModelFormatError.badMagic(file: path, expected: "GGUF", found: Self.printable(magic))
        }
        let v = try r.integer(UInt32.self, "version")
        // v1 used 32-bit counts; v2 and v3 share the layout (v3 only allows big-endian files,
        // whose version then reads as a huge number here and is rejected too).
        guard v == 2 || v == 3 else { throw ModelFormatError.unsupportedVersion(file: path, version: Int(v)) }
        version = Int(v)

        let tensorCount = try r.count("tensor count")
        let kvCount = try r.count("metadata count")
        // Each tensor info takes at least 24 bytes and each key/value at least 13.
        try Self.checkFits(tensorCount, minBytes: 24, r, "tensor count")
        try Self.checkFits(kvCount, minBytes: 13, r, "metadata count")

        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let keyOffset = r.offset
            let keyLength = try r.count("metadata key #\(i) length")
            let key = try r.utf8(keyLength, "metadata key #\(i)")
            let type = try r.integer(UInt32.self, "type of metadata '\(key)'")
            let value = try Self.readValue(&r, type: type, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFormatError.corrupt(file: path, what: "metadata '\(key)'", offset: keyOffset, reason: "duplicate key")
            }
        }
        self.metadata = metadata

        let alignment = metadata["general.alignment"]?.int ?? 32
        if let a = metadata["general.alignment"], a.int == nil || alignment <= 0 || alignment & (alignment - 1) != 0 {
            throw ModelFormatError.invalidConfig(file: path, field: "general.alignment",
                                                 reason: "must be a power-of-two integer, is \(a)")
        }
        self.alignment = alignment

        var raw: [RawTensorInfo] = []
        raw.reserveCapacity(tensorCount)
        var tensorIndex: [String: Int] = [:]
        for i in 0..<tensorCount {
            let infoOffset = r.offset
            let t = try Self.readTensorInfo(&r, index: i, alignment: alignment)
            guard tensorIndex.updateValue(i, forKey: t.name) == nil else {
                throw ModelFormatError.corrupt(file: path, what: "tensor '\(t.name)'", offset: infoOffset, reason: "duplicate name")
            }
            raw.append(t)
        }

        let (aligned, overflow) = r.offset.addingReportingOverflow((alignment - r.offset % alignment) % alignment)
        if overflow {
            throw ModelFormatError.invalidConfig(file: path, field: "general.alignment", reason: "\(alignment) is absurdly large")
        }
        dataOffset = aligned
        let fileSize = file.size
        tensors = try raw.map { t in
            let (start, overflow) = aligned.addingReportingOverflow(t.relative)
            guard !overflow, start <= fileSize, t.byteCount <= fileSize - start else {
                throw ModelFormatError.truncated(file: path, what: "data of tensor '\(t.name)'", offset: overflow ? Int.max : start,
                                                 needed: t.byteCount, fileSize: fileSize)
            }
            return GGUFTensorInfo(name: t.name, dims: t.dims, type: t.type, offset: start, byteCount: t.byteCount)
        }
        self.tensorIndex = tensorIndex
    }

    /// The tensor called `name`, or `missingTensor`.
    public func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let i = tensorIndex[name] else { throw ModelFormatError.missingTensor(file: file.path, tensor: name) }
        return tensors[i]
    }

    public func contains(tensor name: String) -> Bool { tensorIndex[name] != nil }

    /// The tensor's values as float32 in storage order (GGUF's innermost dimension fastest).
    public func floats(_ info: GGUFTensorInfo) throws -> [Float] {
        guard let dequantize = info.type.dequantizer else {
            throw ModelFormatError.unsupportedDType(file: file.path, tensor: info.name, dtype: info.type.description)
        }
        let src = try file.slice(info.offset, info.byteCount, "data of tensor '\(info.name)'")
        let n = info.elementCount
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            if let s = src.baseAddress, let d = buf.baseAddress { dequantize(s, d, n) }
            count = n
        }
    }

    /// The values of the tensor called `name` as float32.
    public func floats(_ name: String) throws -> [Float] { try floats(try tensor(name)) }

    /// The tensor's data bytes as stored, for formats that interpret them themselves.
    public func rawBytes(_ info: GGUFTensorInfo) throws -> [UInt8] {
        Array(try file.slice(info.offset, info.byteCount, "data of tensor '\(info.name)'"))
    }

    // MARK: - Parsing

    private typealias RawTensorInfo = (name: String, dims: [Int], type: GGMLType, relative: Int, byteCount: Int)

    /// One tensor-table entry, with its data offset still relative to the data section.
    private static func readTensorInfo(_ r: inout ByteReader, index i: Int, alignment: Int) throws -> RawTensorInfo {
        let path = r.file.path
        let name = try r.utf8(try r.count("tensor #\(i) name length"), "tensor #\(i) name")
        let nDimsOffset = r.offset
        let nDims = try r.integer(UInt32.self, "dimension count of tensor '\(name)'")
        guard (1...4).contains(nDims) else {
            throw ModelFormatError.corrupt(file: path, what: "tensor '\(name)'", offset: nDimsOffset,
                                           reason: "\(nDims) dimensions (ggml allows 1 to 4)")
        }
        var dims: [Int] = []
        for d in 0..<Int(nDims) { dims.append(try r.count("dimension \(d) of tensor '\(name)'")) }
        let typeOffset = r.offset
        let typeRaw = try r.integer(UInt32.self, "type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: typeRaw) else {
            throw ModelFormatError.unsupportedDType(file: path, tensor: name, dtype: "ggml type \(typeRaw) (at offset \(typeOffset))")
        }
        let offsetField = r.offset
        let relative = try r.count("data offset of tensor '\(name)'")
        let block = type.blockGeometry
        guard let elements = checkedProduct(dims), dims[0] % block.values == 0,
              case let (bytes, overflow) = (elements / block.values).multipliedReportingOverflow(by: block.bytes), !overflow
        else {
            throw ModelFormatError.corrupt(file: path, what: "tensor '\(name)'", offset: nDimsOffset,
                                           reason: "shape \(dims) is impossible for \(type) (blocks of \(block.values))")
        }
        guard relative % alignment == 0 else {
            throw ModelFormatError.corrupt(file: path, what: "tensor '\(name)'", offset: offsetField,
                                           reason: "data offset \(relative) is not a multiple of the alignment \(alignment)")
        }
        return (name, dims, type, relative, bytes)
    }

    /// A count whose smallest possible encoding runs past the end of the file is reported before
    /// anything is allocated for it (it is either absurd or the file is cut short).
    private static func checkFits(_ count: Int, minBytes: Int, _ r: ByteReader, _ what: String) throws {
        if count > r.remaining / minBytes {
            let (needed, overflow) = count.multipliedReportingOverflow(by: minBytes)
            throw ModelFormatError.truncated(file: r.file.path, what: "\(what) \(count)", offset: r.offset,
                                             needed: overflow ? Int.max : needed, fileSize: r.file.size)
        }
    }

    /// Smallest encoding of one value of a GGUF type tag, or nil for an unknown tag.
    private static func minimumSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8
        case 9: return 12
        default: return nil
        }
    }

    private static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let at = r.offset
        func what() -> String { "metadata '\(key)'" }
        switch type {
        case 0: return .uint8(try r.integer(UInt8.self, what()))
        case 1: return .int8(try r.integer(Int8.self, what()))
        case 2: return .uint16(try r.integer(UInt16.self, what()))
        case 3: return .int16(try r.integer(Int16.self, what()))
        case 4: return .uint32(try r.integer(UInt32.self, what()))
        case 5: return .int32(try r.integer(Int32.self, what()))
        case 6: return .float32(try r.float32(what()))
        case 7:
            let b = try r.integer(UInt8.self, what())
            guard b <= 1 else {
                throw ModelFormatError.corrupt(file: r.file.path, what: what(), offset: at, reason: "bool byte \(b) is neither 0 nor 1")
            }
            return .bool(b == 1)
        case 8: return .string(try r.utf8(try r.count("\(what()) string length"), "\(what()) string"))
        case 9:
            guard depth < maxArrayDepth else {
                throw ModelFormatError.corrupt(file: r.file.path, what: what(), offset: at, reason: "arrays nested deeper than \(maxArrayDepth)")
            }
            let elementType = try r.integer(UInt32.self, "\(what()) array element type")
            let count = try r.count("\(what()) array length")
            guard let size = minimumSize(elementType) else {
                throw ModelFormatError.corrupt(file: r.file.path, what: what(), offset: at, reason: "unknown array element type \(elementType)")
            }
            try checkFits(count, minBytes: size, r, "\(what()) array length")
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readValue(&r, type: elementType, key: key, depth: depth + 1)) }
            return .array(values)
        case 10: return .uint64(try r.integer(UInt64.self, what()))
        case 11: return .int64(try r.integer(Int64.self, what()))
        case 12: return .float64(try r.float64(what()))
        default:
            throw ModelFormatError.corrupt(file: r.file.path, what: what(), offset: at, reason: "unknown value type \(type)")
        }
    }

    /// Magic bytes for a message: as text when printable, else hex.
    static func printable(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "'" + String(decoding: bytes, as: UTF8.self) + "'" }
        return "0x" + bytes.map { String(format: "%02x", $0) }.joined()
    }
}
