import Foundation
import Models
import Tensor

/// A quantized model as a GGUF v3 file: llama.cpp's `llama.*` metadata and float tensor names for
/// the float parts, plus qaft's own keys and tensors for the packed projections:
///
/// * metadata `qaft.quantization.{version, layout, method, bits, group_size, weak_columns,
///   act_order, range_search, percent_damp}` (and, when set, `per_channel`, `random_weak_columns`), `qaft.rope_style`, and for QEFT
///   `qaft.quantization.residual_order` and `qaft.quantization.intermediate_order.<block>`;
/// * per projection `blk.<l>.<site>.qcodes` (I32: the `BitPacking` words), `.qscales` and `.qzeros`
///   (F32, GGUF dims [groups, rows]), and for the mixed layout `.qweak` (F32 [k, rows]) and
///   `.qweak_index` (I32 [k]).
///
/// Scales are stored in float32 so a written model reads back bit for bit (the deployed-size
/// accounting in `QuantizedLayer.deployedBits` still counts them as fp16).
public enum QuantizedModelFile {
    static let version = 1
    static let layout = "tiles16x32-v1"

    /// Whether `url` is a GGUF written by `write` (any other file, or none, is not).
    public static func isQuantized(_ url: URL) -> Bool {
        guard let f = try? GGUFFile(contentsOf: url) else { return false }
        return f.metadata["qaft.quantization.version"] != nil
    }

    /// Writes `model`; `metadata` adds keys (e.g. the source's `tokenizer.ggml.*`, calibration settings).
    public static func write(_ model: QuantizedModel, to url: URL, metadata extra: [(String, GGUFValue)] = []) throws {
        let o = model.options
        var w = try model.weights.ggufWriter(projections: false)
        w.set("qaft.quantization.version", .uint32(UInt32(version)))
        w.set("qaft.quantization.layout", .string(layout))
        w.set("qaft.quantization.method", .string(o.method.rawValue))
        w.set("qaft.quantization.bits", .uint32(UInt32(o.bits)))
        w.set("qaft.quantization.group_size", .uint32(UInt32(o.groupSize)))
        w.set("qaft.quantization.weak_columns", .uint32(UInt32(o.weakColumns)))
        w.set("qaft.quantization.act_order", .bool(o.actOrder))
        // Sorted keys: the same quantization always writes the same bytes (artifacts are content-addressed).
        let json = JSONEncoder()
        json.outputFormatting = .sortedKeys
        w.set("qaft.quantization.range_search", .string(try String(decoding: json.encode(o.rangeSearch), as: UTF8.self)))
        w.set("qaft.quantization.percent_damp", .float64(o.percentDamp))
        // Written only when set, so files of grouped quantizations keep their bytes.
        if o.perChannel { w.set("qaft.quantization.per_channel", .bool(true)) }
        if let seed = o.randomWeakColumns { w.set("qaft.quantization.random_weak_columns", .uint64(seed)) }
        if let r = model.reordering {
            w.set("qaft.quantization.residual_order", .array(r.residual.map { .uint32(UInt32($0)) }))
            for (l, p) in r.intermediate.enumerated() {
                if let p { w.set("qaft.quantization.intermediate_order.\(l)", .array(p.map { .uint32(UInt32($0)) })) }
            }
        }
        for (k, v) in extra { w.set(k, v) }

        for (l, block) in model.layers.enumerated() {
            for site in Projection.allCases {
                let name = "blk.\(l).\(site.ggufName)", layer = block[site]!, p = layer.lowBit
                // The quantizers' grids have integer zeros; offsets come only from deployable trained grids.
                precondition(p.offsets == nil, "\(name): a quantized model file does not store grid offsets")
                try w.addTensor(name + ".qcodes", dims: [p.words.count], type: .i32, data: p.words.withUnsafeBytes { Array($0) })
                try w.addTensor(name + ".qscales", dims: [p.groupCount, p.rows], floats: p.scales)
                try w.addTensor(name + ".qzeros", dims: [p.groupCount, p.rows], floats: p.zeros)
                if case .mixed(let m) = layer, !m.weakIndices.isEmpty {
                    try w.addTensor(name + ".qweak", dims: [m.weakIndices.count, m.rows], floats: m.weak.storage)
                    let idx = m.weakIndices.map { UInt32($0) }
                    try w.addTensor(name + ".qweak_index", dims: [idx.count], type: .i32, data: idx.withUnsafeBytes { Array($0) })
                }
            }
        }
        try w.write(to: url)
    }

    /// Reads a file written by `write`, checking every field against the others.
    public static func read(_ url: URL) throws -> QuantizedModel {
        let f = try GGUFFile(contentsOf: url)
        let m = MetadataReader(file: f)
        guard try m.int("qaft.quantization.version") == version else {
            throw ModelFormatError.unsupportedVersion(file: url.path, version: try m.int("qaft.quantization.version"))
        }
        let foundLayout = try m.string("qaft.quantization.layout")
        guard foundLayout == layout else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "qaft.quantization.layout",
                                                 reason: "'\(foundLayout)' is not the packing this build reads ('\(layout)')")
        }
        let c = try f.llamaConfig()
        try c.validate(source: url.path)
        let options = try readOptions(m)
        do { try options.validate(for: c) } catch let e as QuantizationError {
            throw ModelFormatError.invalidConfig(file: url.path, field: "qaft.quantization.*", reason: e.description)
        }
        let t = TensorReader(file: f)
        var layers = [[Projection: QuantizedLayer]](repeating: [:], count: c.layerCount)
        let weights = try f.llamaWeights { l, site, rows, cols in
            let layer = try t.layer("blk.\(l).\(site.ggufName)", rows: rows, cols: cols, options: options)
            layers[l][site] = layer
            return layer.dequantized()
        }
        return try QuantizedModel(options: options, weights: weights, layers: layers, reordering: try readReordering(m, c))
    }

    private static func readOptions(_ m: MetadataReader) throws -> ModelQuantizationOptions {
        let methodName = try m.string("qaft.quantization.method")
        guard let method = ModelQuantizationOptions.Method(rawValue: methodName) else {
            throw ModelFormatError.invalidConfig(file: m.file.url.path, field: "qaft.quantization.method", reason: "unknown method '\(methodName)'")
        }
        let searchJSON = try m.string("qaft.quantization.range_search")
        guard let search = try? JSONDecoder().decode(UniformQuantizer.RangeSearch.self, from: Data(searchJSON.utf8)) else {
            throw ModelFormatError.invalidConfig(file: m.file.url.path, field: "qaft.quantization.range_search", reason: "cannot decode '\(searchJSON)'")
        }
        guard let damp = m.file.metadata["qaft.quantization.percent_damp"]?.double else {
            throw ModelFormatError.missingField(file: m.file.url.path, field: "qaft.quantization.percent_damp")
        }
        guard let actOrder = m.file.metadata["qaft.quantization.act_order"]?.bool else {
            throw ModelFormatError.missingField(file: m.file.url.path, field: "qaft.quantization.act_order")
        }
        return ModelQuantizationOptions(method: method, bits: try m.int("qaft.quantization.bits"),
                                        groupSize: try m.int("qaft.quantization.group_size"),
                                        weakColumns: try m.int("qaft.quantization.weak_columns"), actOrder: actOrder,
                                        rangeSearch: search, percentDamp: damp,
                                        perChannel: m.file.metadata["qaft.quantization.per_channel"]?.bool ?? false,
                                        randomWeakColumns: try m.file.metadata["qaft.quantization.random_weak_columns"].map { v in
                                            guard case .uint64(let seed) = v else {
                                                throw ModelFormatError.invalidConfig(file: m.file.url.path, field: "qaft.quantization.random_weak_columns",
                                                                                     reason: "expected a UInt64 seed, found \(v)")
                                            }
                                            return seed
                                        })
    }

    private static func readReordering(_ m: MetadataReader, _ c: LlamaConfig) throws -> GlobalReordering? {
        guard m.file.metadata["qaft.quantization.residual_order"] != nil else { return nil }
        let residual = try m.ints("qaft.quantization.residual_order")
        let intermediate = try (0..<c.layerCount).map { l -> [Int]? in
            let key = "qaft.quantization.intermediate_order.\(l)"
            return m.file.metadata[key] == nil ? nil : try m.ints(key)
        }
        do {
            return try GlobalReordering(residual: residual, intermediate: intermediate)
        } catch let e as QuantizationError {
            throw ModelFormatError.invalidConfig(file: m.file.url.path, field: "qaft.quantization.*_order", reason: e.description)
        }
    }
}
