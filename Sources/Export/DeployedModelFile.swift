import Foundation
import Models
import Quantization
import Tensor

/// A `DeployedModel` as a GGUF v3 file (`deployed.gguf` in a method stage's artifact): the float
/// parts under llama.cpp's names and `llama.*` keys (as `LlamaWeights.ggufWriter` writes them), the
/// source's `tokenizer.*` keys, and per projection `N` = `blk.<l>.<site>`:
///
/// * key `qaft.deployed.N.base`: `grid`, `mixed`, `nf4` or `dense`;
/// * grid and mixed: `N.codes` (I8 holding the unsigned codes, GGUF dims [cols, rows]), `N.scales`
///   and `N.zeros` (F32 [groups, rows]), `N.offsets` (same shape) for a grid that has them, keys
///   `N.bits`, `N.group_size`; mixed adds `N.weak`
///   (F32 [k, rows]) and `N.weak_index` (I32 [k]); nf4 and dense: `N.weight` (F32 [cols, rows]);
/// * with an adapter: `N.lora_a` (F32 [in, rank]), `N.lora_b` (F32 [rank, out]), key `N.lora_alpha`.
///
/// Everything is stored in float32 and codes unpacked, so a read model equals the written one bit
/// for bit whatever its group size.
public enum DeployedModelFile {
    static let version = 1
    static let prefix = "qaft.deployed."
    /// The key that marks a deployed-model file.
    public static let versionKey = prefix + "version"

    /// Whether `url` is a deployed-model file (a readable GGUF carrying `versionKey`).
    public static func isDeployed(_ url: URL) -> Bool {
        guard let f = try? GGUFFile(contentsOf: url) else { return false }
        return f.metadata[versionKey] != nil
    }

    /// Writes `model` to `url` (under a temporary name, renamed at the end); `metadata` adds keys
    /// (the source's `tokenizer.*`).
    public static func write(_ model: DeployedModel, to url: URL, metadata extra: [(String, GGUFValue)] = []) throws {
        var w = try model.weights.ggufWriter(projections: false)
        w.set(versionKey, .uint32(UInt32(version)))
        for (k, v) in extra { w.set(k, v) }
        for (l, block) in model.layers.enumerated() {
            for site in Projection.allCases {
                let name = "blk.\(l).\(site.ggufName)", p = block[site]!
                func grid(_ q: QuantizedMatrix) throws {
                    w.set(prefix + name + ".bits", .uint32(UInt32(q.bits)))
                    w.set(prefix + name + ".group_size", .uint32(UInt32(q.groupSize)))
                    try w.addTensor(name + ".codes", dims: [q.cols, q.rows], type: .i8, data: q.codes)
                    try w.addTensor(name + ".scales", dims: [q.groupCount, q.rows], floats: q.scales)
                    try w.addTensor(name + ".zeros", dims: [q.groupCount, q.rows], floats: q.zeros)
                    if let offsets = q.offsets { try w.addTensor(name + ".offsets", dims: [q.groupCount, q.rows], floats: offsets) }
                }
                switch p.base {
                case .grid(let q):
                    w.set(prefix + name + ".base", .string("grid"))
                    try grid(q)
                case .mixed(let m):
                    w.set(prefix + name + ".base", .string("mixed"))
                    try grid(m.lowBit.unpacked())
                    try w.addTensor(name + ".weak", dims: [m.weakIndices.count, m.rows], floats: m.weak.storage)
                    let idx = m.weakIndices.map { UInt32($0) }
                    try w.addTensor(name + ".weak_index", dims: [idx.count], type: .i32, data: idx.withUnsafeBytes { Array($0) })
                case .nf4(let m), .dense(let m):
                    if case .nf4 = p.base { w.set(prefix + name + ".base", .string("nf4")) } else { w.set(prefix + name + ".base", .string("dense")) }
                    try w.addTensor(name + ".weight", dims: [m.cols, m.rows], floats: m.storage)
                }
                if let a = p.adapter {
                    w.set(prefix + name + ".lora_alpha", .float32(a.alpha))
                    try w.addTensor(name + ".lora_a", dims: [a.a.cols, a.a.rows], floats: a.a.storage)
                    try w.addTensor(name + ".lora_b", dims: [a.b.cols, a.b.rows], floats: a.b.storage)
                }
            }
        }
        try w.write(to: url)
    }

    /// Reads a file written by `write`, checking each tensor's type and shape against the config.
    public static func read(_ url: URL) throws -> DeployedModel {
        let f = try GGUFFile(contentsOf: url)
        guard let v = f.metadata[versionKey] else { throw ModelFormatError.missingField(file: url.path, field: versionKey) }
        guard v.int == version else { throw ModelFormatError.unsupportedVersion(file: url.path, version: v.int ?? -1) }
        let r = Reader(file: f)
        let c = try f.llamaConfig()
        var layers = [[Projection: DeployedLayer]](repeating: [:], count: c.layerCount)
        let floats = try f.llamaWeights { l, site, rows, cols in
            let p = try r.projection("blk.\(l).\(site.ggufName)", rows: rows, cols: cols)
            layers[l][site] = p
            return p.baseWeight
        }
        return DeployedModel(weights: floats, layers: layers)
    }

    private struct Reader {
        let file: GGUFFile
        var path: String { file.url.path }

        func key(_ k: String) throws -> GGUFValue {
            guard let v = file.metadata[prefix + k] else { throw ModelFormatError.missingField(file: path, field: prefix + k) }
            return v
        }

        func int(_ k: String) throws -> Int {
            guard let i = try key(k).int else { throw ModelFormatError.invalidConfig(file: path, field: prefix + k, reason: "expected an integer") }
            return i
        }

        func bytes(_ name: String, _ dims: [Int], _ type: GGMLType) throws -> [UInt8] {
            let t = try file.tensor(name)
            guard t.dims == dims else { throw ModelFormatError.shapeMismatch(file: path, tensor: name, expected: dims, found: t.dims) }
            guard t.type == type else {
                throw ModelFormatError.invalidConfig(file: path, field: name, reason: "expected \(type), found \(t.type)")
            }
            return try file.rawBytes(t)
        }

        func matrix(_ name: String, rows: Int, cols: Int) throws -> Matrix {
            _ = try bytes(name, [cols, rows], .f32)
            return Matrix(rows: rows, cols: cols, storage: try file.floats(name))
        }

        func grid(_ name: String, rows: Int, cols: Int) throws -> QuantizedMatrix {
            let bits = try int(name + ".bits"), groupSize = try int(name + ".group_size")
            guard BitPacking.supportedBits.contains(bits), groupSize > 0 else {
                throw ModelFormatError.invalidConfig(file: path, field: prefix + name + ".bits/.group_size", reason: "\(bits) bits, group \(groupSize)")
            }
            var q = QuantizedMatrix(rows: rows, cols: cols, bits: bits, groupSize: groupSize)
            q.codes = try bytes(name + ".codes", [cols, rows], .i8)
            if let bad = q.codes.firstIndex(where: { Int($0) >= 1 << bits }) {
                throw ModelFormatError.corrupt(file: path, what: "tensor '\(name).codes'", offset: bad, reason: "code \(q.codes[bad]) exceeds \(bits) bits")
            }
            q.scales = try matrix(name + ".scales", rows: rows, cols: q.groupCount).storage
            q.zeros = try matrix(name + ".zeros", rows: rows, cols: q.groupCount).storage
            if file.contains(tensor: name + ".offsets") { q.offsets = try matrix(name + ".offsets", rows: rows, cols: q.groupCount).storage }
            return q
        }

        func projection(_ name: String, rows: Int, cols: Int) throws -> DeployedLayer {
            let kind = try key(name + ".base").string ?? ""
            let base: DeployedLayer.Base
            switch kind {
            case "grid": base = .grid(try grid(name, rows: rows, cols: cols))
            case "mixed":
                let t = try file.tensor(name + ".weak_index")
                let k = t.elementCount
                let idx = try bytes(name + ".weak_index", [k], .i32).withUnsafeBytes { b in
                    (0..<k).map { Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
                }
                do {
                    base = .mixed(try MixedPrecisionWeights(lowBit: try PackedWeights(try grid(name, rows: rows, cols: cols - k)),
                                                            weak: try matrix(name + ".weak", rows: rows, cols: k), weakIndices: idx))
                } catch let e as QuantizationError {
                    throw ModelFormatError.invalidConfig(file: path, field: name, reason: e.description)
                }
            case "nf4": base = .nf4(try matrix(name + ".weight", rows: rows, cols: cols))
            case "dense": base = .dense(try matrix(name + ".weight", rows: rows, cols: cols))
            default: throw ModelFormatError.invalidConfig(file: path, field: prefix + name + ".base", reason: "unknown form '\(kind)'")
            }
            guard file.metadata[prefix + name + ".lora_alpha"] != nil else { return DeployedLayer(base: base) }
            guard let alpha = try key(name + ".lora_alpha").double else {
                throw ModelFormatError.invalidConfig(file: path, field: prefix + name + ".lora_alpha", reason: "expected a float")
            }
            let rank = try file.tensor(name + ".lora_a").dims.last ?? 0
            let a = try matrix(name + ".lora_a", rows: rank, cols: cols), b = try matrix(name + ".lora_b", rows: rows, cols: rank)
            return DeployedLayer(base: base, adapter: DeployedLayer.Adapter(a: a, b: b, alpha: Float(alpha)))
        }
    }
}
