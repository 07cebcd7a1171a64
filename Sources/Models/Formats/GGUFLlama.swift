import Foundation
import Tensor

/// Reading a `llama`- or `qwen2`-architecture GGUF (llama.cpp's naming; Mistral is stored as
/// `llama`) into qaft's model types.
extension GGUFFile {
    /// qaft's key naming the RoPE convention of a file it wrote (llama.cpp's files have none).
    public static let ropeStyleKey = "qaft.rope_style"
    /// qaft's key holding the exact `RoPEScaling` (JSON) of a file it wrote.
    public static let ropeScalingKey = "qaft.rope_scaling"
    /// qaft's key listing the sliding-window layers when not every layer has the window.
    public static let slidingLayersKey = "qaft.sliding_layers"
    /// The architectures whose tensors and keys this reader knows.
    static let architectures: Set<String> = ["llama", "qwen2"]

    /// The model shape from `<arch>.*` metadata; the vocabulary size comes from the embedding rows.
    /// RoPE: llama.cpp's converter permutes the Q/K rows of `llama` models into adjacent pairs
    /// (interleaved) and leaves `qwen2` in rotate-half (NeoX) order, unless a `qaft.rope_style` key
    /// (written by qaft) says otherwise. Scaling comes from `qaft.rope_scaling`, else Llama 3's
    /// `rope_freqs` tensor, else `<arch>.rope.scaling.type` (none or linear).
    public func llamaConfig() throws -> LlamaConfig {
        let arch = try required("general.architecture", "string", \.string)
        guard Self.architectures.contains(arch) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "general.architecture",
                                                 reason: "'\(arch)' is not supported (only \(Self.architectures.sorted().joined(separator: ", ")))")
        }
        let headCount = try required("\(arch).attention.head_count", "integer", \.int)
        let embedding = try tensor("token_embd.weight")
        guard embedding.dims.count == 2 else {
            throw ModelFormatError.invalidConfig(file: url.path, field: embedding.name,
                                                 reason: "the embedding must have 2 dimensions, has \(embedding.dims)")
        }
        let dim = try required("\(arch).embedding_length", "integer", \.int)
        let headDim = try optional("\(arch).attention.key_length", "integer", \.int) ?? (headCount > 0 ? dim / headCount : 0)
        if let valueLength = try optional("\(arch).attention.value_length", "integer", \.int), valueLength != headDim {
            throw ModelFormatError.invalidConfig(file: url.path, field: "\(arch).attention.value_length",
                                                 reason: "\(valueLength) differs from the key length \(headDim)")
        }
        // qaft rotates whole heads; partial rotary embeddings would silently give wrong outputs.
        if let rotary = try optional("\(arch).rope.dimension_count", "integer", \.int), rotary != headDim {
            throw ModelFormatError.invalidConfig(file: url.path, field: "\(arch).rope.dimension_count",
                                                 reason: "\(rotary) differs from the head dimension \(headDim)")
        }
        var style: RoPEStyle = arch == "qwen2" ? .rotateHalf : .interleaved
        if let name = try optional(Self.ropeStyleKey, "string", \.string) {
            guard let s = RoPEStyle(rawValue: name) else {
                throw ModelFormatError.invalidConfig(file: url.path, field: Self.ropeStyleKey, reason: "unknown style '\(name)'")
            }
            style = s
        }
        let window = try optional("\(arch).attention.sliding_window", "integer", \.int)
        return LlamaConfig(
            dim: dim,
            hiddenDim: try required("\(arch).feed_forward_length", "integer", \.int),
            layerCount: try required("\(arch).block_count", "integer", \.int),
            headCount: headCount,
            kvHeadCount: try optional("\(arch).attention.head_count_kv", "integer", \.int) ?? headCount,
            vocabSize: embedding.dims[1],
            contextLength: try required("\(arch).context_length", "integer", \.int),
            ropeTheta: Float(try optional("\(arch).rope.freq_base", "float", \.double) ?? 10000),
            normEps: Float(try required("\(arch).attention.layer_norm_rms_epsilon", "float", \.double)),
            ropeStyle: style,
            tiedEmbeddings: !contains(tensor: "output.weight"),
            headDim: headDim,
            ropeScaling: try ropeScaling(arch, headDim: headDim),
            slidingWindow: window == 0 ? nil : window,
            slidingLayers: try optional(Self.slidingLayersKey, "integer array", \.ints))
    }

    private func ropeScaling(_ arch: String, headDim: Int) throws -> RoPEScaling {
        if let json = try optional(Self.ropeScalingKey, "string", \.string) {
            guard let s = try? JSONDecoder().decode(RoPEScaling.self, from: Data(json.utf8)) else {
                throw ModelFormatError.invalidConfig(file: url.path, field: Self.ropeScalingKey, reason: "cannot decode '\(json)'")
            }
            return s
        }
        if contains(tensor: "rope_freqs.weight") {
            return .frequencyFactors(try vector("rope_freqs.weight", headDim / 2))
        }
        let key = "\(arch).rope.scaling.type"
        switch try optional(key, "string", \.string) ?? "none" {
        case "none":
            return .none
        case "linear":
            let factor = try required("\(arch).rope.scaling.factor", "float", \.double)
            return factor == 1 ? .none : .linear(factor: factor)
        case let other:
            throw ModelFormatError.invalidConfig(file: url.path, field: key, reason: "'\(other)' is not supported (only none, linear)")
        }
    }

    /// All weights dequantized to float32, each tensor's shape checked against the config.
    public func llamaWeights() throws -> LlamaWeights {
        try llamaWeights { l, p, rows, cols in try matrix("blk.\(l).\(p.ggufName).weight", rows, cols) }
    }

    /// The float parts (embedding, norms, head, biases) read from the file and each projection from
    /// `projection(layer, p, rows, cols)`, for containers that store projections in their own form.
    public func llamaWeights(projection: (Int, Projection, Int, Int) throws -> Matrix) throws -> LlamaWeights {
        let c = try llamaConfig()
        try c.validate(source: url.path)
        let layers = try (0..<c.layerCount).map { l -> LlamaLayerWeights in
            let prefix = "blk.\(l)."
            return try LlamaLayerWeights(attnNorm: try vector(prefix + "attn_norm.weight", c.dim),
                                         ffnNorm: try vector(prefix + "ffn_norm.weight", c.dim)) { p in
                let (rows, cols) = p.shape(c), bias = prefix + p.ggufName + ".bias"
                return (try projection(l, p, rows, cols), contains(tensor: bias) ? try vector(bias, rows) : nil)
            }
        }
        let weights = LlamaWeights(
            config: c, tokenEmbedding: try matrix("token_embd.weight", c.vocabSize, c.dim), layers: layers,
            finalNorm: try vector("output_norm.weight", c.dim),
            output: c.tiedEmbeddings ? nil : try matrix("output.weight", c.vocabSize, c.dim))
        try weights.validateShapes(source: url.path)
        return weights
    }

    /// The metadata value at `key` converted by `get`; nil when absent, an error when of the wrong type.
    func optional<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T? {
        guard let v = metadata[key] else { return nil }
        guard let t = get(v) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: key, reason: "expected \(kind), found \(v.typeName)")
        }
        return t
    }

    func required<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T {
        guard let t = try optional(key, kind, get) else { throw ModelFormatError.missingField(file: url.path, field: key) }
        return t
    }

    /// A (rows, cols) row-major matrix; GGUF lists the same tensor as (cols, rows).
    func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
        let t = try tensor(name)
        guard t.dims == [cols, rows] else {
            throw ModelFormatError.shapeMismatch(file: url.path, tensor: name, expected: [cols, rows], found: t.dims)
        }
        return Matrix(rows: rows, cols: cols, storage: try floats(t))
    }

    func vector(_ name: String, _ n: Int) throws -> [Float] {
        let t = try tensor(name)
        guard t.dims == [n] else { throw ModelFormatError.shapeMismatch(file: url.path, tensor: name, expected: [n], found: t.dims) }
        return try floats(t)
    }
}
