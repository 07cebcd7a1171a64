import Foundation
import Models
import Tensor

/// Typed access to the metadata of a qaft GGUF (quantized or deployed model); absent or mistyped keys name the key.
public struct MetadataReader {
    public let file: GGUFFile

    public init(file: GGUFFile) { self.file = file }

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = file.metadata[key] else { throw ModelFormatError.missingField(file: file.url.path, field: key) }
        return v
    }

    public func int(_ key: String) throws -> Int {
        guard let i = try value(key).int else { throw wrongType(key, "integer") }
        return i
    }

    public func string(_ key: String) throws -> String {
        guard let s = try value(key).string else { throw wrongType(key, "string") }
        return s
    }

    public func ints(_ key: String) throws -> [Int] {
        guard let a = try value(key).ints else { throw wrongType(key, "integer array") }
        return a
    }

    private func wrongType(_ key: String, _ kind: String) -> ModelFormatError {
        .invalidConfig(file: file.url.path, field: key, reason: "expected \(kind), found \(file.metadata[key]!)")
    }
}

/// The tensors of a quantized GGUF, each checked for type and shape, assembled into layers.
public struct TensorReader {
    public let file: GGUFFile

    public init(file: GGUFFile) { self.file = file }
    var path: String { file.url.path }

    public func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
        Matrix(rows: rows, cols: cols, storage: try floats(name, [cols, rows]))
    }

    /// A F32 tensor of GGUF dims `dims`, every value finite.
    public func floats(_ name: String, _ dims: [Int]) throws -> [Float] {
        let t = try info(name, dims, .f32)
        let v = try file.floats(t)
        if let bad = v.firstIndex(where: { !$0.isFinite }) {
            throw ModelFormatError.corrupt(file: path, what: "tensor '\(name)'", offset: t.offset + 4 * bad, reason: "value \(bad) is \(v[bad])")
        }
        return v
    }

    public func words(_ name: String, _ count: Int) throws -> (values: [UInt32], offset: Int) {
        let t = try info(name, [count], .i32)
        let bytes = try file.rawBytes(t)
        let values = bytes.withUnsafeBytes { b in (0..<count).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
        return (values, t.offset)
    }

    /// Projection `name` of shape (rows, cols): packed, or mixed when it has weak columns.
    func layer(_ name: String, rows: Int, cols: Int, options: ModelQuantizationOptions) throws -> QuantizedLayer {
        var weakIndices: [Int] = []
        if file.contains(tensor: name + ".qweak_index") {
            let k = try file.tensor(name + ".qweak_index").elementCount
            let (idx, offset) = try words(name + ".qweak_index", k)
            weakIndices = idx.map { Int($0) }
            for (i, c) in weakIndices.enumerated() where c >= cols || (i > 0 && c <= weakIndices[i - 1]) {
                throw ModelFormatError.corrupt(file: path, what: "tensor '\(name).qweak_index'", offset: offset + 4 * i,
                                               reason: "index \(i) = \(c): must be strictly ascending input columns in 0..<\(cols)")
            }
            guard k < cols else {
                throw ModelFormatError.shapeMismatch(file: path, tensor: name + ".qweak_index", expected: [cols - 1], found: [k])
            }
        }
        let low = cols - weakIndices.count
        let groupSize = options.packedGroupSize(columns: low), groups = (low + groupSize - 1) / groupSize
        let count = BitPacking.wordCount(rows: rows, cols: low, bits: options.bits)
        let (codes, codesOffset) = try words(name + ".qcodes", count)
        if let (r, c, word) = BitPacking.nonzeroPadding(in: codes, rows: rows, cols: low, bits: options.bits) {
            throw ModelFormatError.corrupt(file: path, what: "tensor '\(name).qcodes'", offset: codesOffset + 4 * word,
                                           reason: "padding code at row \(r), column \(c) is not zero")
        }
        let packed = PackedWeights(rows: rows, cols: low, bits: options.bits, groupSize: groupSize, words: codes,
                                   scales: try floats(name + ".qscales", [groups, rows]),
                                   zeros: try floats(name + ".qzeros", [groups, rows]))
        if weakIndices.isEmpty && !file.contains(tensor: name + ".qweak") { return .packed(packed) }
        let weak = try matrix(name + ".qweak", rows, weakIndices.count)
        return .mixed(try MixedPrecisionWeights(lowBit: packed, weak: weak, weakIndices: weakIndices))
    }

    /// The tensor `name`, checked to be of `type` and GGUF dims `dims`.
    public func info(_ name: String, _ dims: [Int], _ type: GGMLType) throws -> GGUFTensorInfo {
        let t = try file.tensor(name)
        guard t.type == type else {
            throw ModelFormatError.unsupportedDType(file: path, tensor: name, dtype: "\(t.type) (expected \(type))")
        }
        guard t.dims == dims else { throw ModelFormatError.shapeMismatch(file: path, tensor: name, expected: dims, found: t.dims) }
        return t
    }
}
