import Tensor

/// Reading a `llama`-architecture GGUF (llama.cpp's naming) into qaft's model types.
extension GGUFFile {
    /// qaft's key naming the RoPE convention of a file it wrote (llama.cpp's files have none).
    public static let ropeStyleKey = "qaft.rope_style"

    /// The model shape from `llama.*` metadata; the vocabulary size comes from the embedding rows.
    /// RoPE is interleaved because llama.cpp's converter permutes Q/K rows into adjacent pairs,
    /// unless a `qaft.rope_style` key (written by qaft) says otherwise.
    public func llamaConfig() throws -> LlamaConfig {
        let arch = try required("general.architecture", "string", \.string)
        guard arch == "llama" else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "general.architecture",
                                                 reason: "'\(arch)' is not supported (only 'llama')")
        }
        let headCount = try required("llama.attention.head_count", "integer", \.int)
        let embedding = try tensor("token_embd.weight")
        guard embedding.dims.count == 2 else {
            throw ModelFormatError.invalidConfig(file: url.path, field: embedding.name,
                                                 reason: "the embedding must have 2 dimensions, has \(embedding.dims)")
        }
        let dim = try required("llama.embedding_length", "integer", \.int)
        // qaft rotates whole heads; partial rotary embeddings would silently give wrong outputs.
        if let rotary = try optional("llama.rope.dimension_count", "integer", \.int), headCount > 0, rotary != dim / headCount {
            throw ModelFormatError.invalidConfig(file: url.path, field: "llama.rope.dimension_count",
                                                 reason: "\(rotary) differs from the head dimension \(dim / headCount)")
        }
        var style = RoPEStyle.interleaved
        if let name = try optional(Self.ropeStyleKey, "string", \.string) {
            guard let s = RoPEStyle(rawValue: name) else {
                throw ModelFormatError.invalidConfig(file: url.path, field: Self.ropeStyleKey, reason: "unknown style '\(name)'")
            }
            style = s
        }
        return LlamaConfig(
            dim: dim,
            hiddenDim: try required("llama.feed_forward_length", "integer", \.int),
            layerCount: try required("llama.block_count", "integer", \.int),
            headCount: headCount,
            kvHeadCount: try optional("llama.attention.head_count_kv", "integer", \.int) ?? headCount,
            vocabSize: embedding.dims[1],
            contextLength: try required("llama.context_length", "integer", \.int),
            ropeTheta: Float(try optional("llama.rope.freq_base", "float", \.double) ?? 10000),
            normEps: Float(try required("llama.attention.layer_norm_rms_epsilon", "float", \.double)),
            ropeStyle: style,
            tiedEmbeddings: !contains(tensor: "output.weight"))
    }

    /// All weights dequantized to float32, each tensor's shape checked against the config.
    public func llamaWeights() throws -> LlamaWeights {
        let c = try llamaConfig()
        try c.validate(source: url.path)
        let layers = try (0..<c.layerCount).map { i -> LlamaLayerWeights in
            let p = "blk.\(i)."
            return LlamaLayerWeights(
                attnNorm: try vector(p + "attn_norm.weight", c.dim),
                wq: try matrix(p + "attn_q.weight", c.dim, c.dim),
                wk: try matrix(p + "attn_k.weight", c.kvDim, c.dim),
                wv: try matrix(p + "attn_v.weight", c.kvDim, c.dim),
                wo: try matrix(p + "attn_output.weight", c.dim, c.dim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                gate: try matrix(p + "ffn_gate.weight", c.hiddenDim, c.dim),
                up: try matrix(p + "ffn_up.weight", c.hiddenDim, c.dim),
                down: try matrix(p + "ffn_down.weight", c.dim, c.hiddenDim))
        }
        let weights = LlamaWeights(
            config: c, tokenEmbedding: try matrix("token_embd.weight", c.vocabSize, c.dim), layers: layers,
            finalNorm: try vector("output_norm.weight", c.dim),
            output: c.tiedEmbeddings ? nil : try matrix("output.weight", c.vocabSize, c.dim))
        try weights.validateShapes(source: url.path)
        return weights
    }

    /// The byte-level BPE tokenizer stored in `tokenizer.ggml.*` (only the `gpt2` model is supported).
    public func byteLevelBPETokenizer() throws -> ByteLevelBPETokenizer {
        let model = try required("tokenizer.ggml.model", "string", \.string)
        guard model == "gpt2" else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.model",
                                                 reason: "tokenizer model '\(model)' is not supported (only byte-level BPE, 'gpt2')")
        }
        let preName = try optional("tokenizer.ggml.pre", "string", \.string) ?? "gpt2"
        guard let pre = ByteLevelBPETokenizer.PreTokenizer(rawValue: preName) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.pre",
                                                 reason: "pre-tokenizer '\(preName)' is not supported")
        }
        return try ByteLevelBPETokenizer(
            tokens: try required("tokenizer.ggml.tokens", "string array", \.strings),
            merges: try required("tokenizer.ggml.merges", "string array", \.strings),
            tokenTypes: try optional("tokenizer.ggml.token_type", "integer array", \.ints),
            preTokenizer: pre,
            bosToken: try optional("tokenizer.ggml.bos_token_id", "integer", \.int),
            eosToken: try optional("tokenizer.ggml.eos_token_id", "integer", \.int),
            addsBOS: try optional("tokenizer.ggml.add_bos_token", "bool", \.bool) ?? false,
            source: url.path)
    }

    /// The metadata value at `key` converted by `get`; nil when absent, an error when of the wrong type.
    private func optional<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T? {
        guard let v = metadata[key] else { return nil }
        guard let t = get(v) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: key, reason: "expected \(kind), found \(v.typeName)")
        }
        return t
    }

    private func required<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T {
        guard let t = try optional(key, kind, get) else { throw ModelFormatError.missingField(file: url.path, field: key) }
        return t
    }

    /// A (rows, cols) row-major matrix; GGUF lists the same tensor as (cols, rows).
    private func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
        let t = try tensor(name)
        guard t.dims == [cols, rows] else {
            throw ModelFormatError.shapeMismatch(file: url.path, tensor: name, expected: [cols, rows], found: t.dims)
        }
        return Matrix(rows: rows, cols: cols, storage: try floats(t))
    }

    private func vector(_ name: String, _ n: Int) throws -> [Float] {
        let t = try tensor(name)
        guard t.dims == [n] else { throw ModelFormatError.shapeMismatch(file: url.path, tensor: name, expected: [n], found: t.dims) }
        return try floats(t)
    }
}
