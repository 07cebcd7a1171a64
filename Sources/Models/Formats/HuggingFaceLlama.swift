import Foundation
import Tensor

/// A Hugging Face LLaMA folder: config.json, safetensors weights (single or sharded) and
/// tokenizer.json. Hugging Face checkpoints rotate the first half of each head against the second,
/// so the config says `.rotateHalf` and the Q/K rows are used as stored.
public enum HuggingFaceLlama {
    public static let configFile = "config.json"
    public static let tokenizerFile = "tokenizer.json"

    /// The model shape from config.json, with transformers' `LlamaConfig` defaults for optional
    /// fields. Features the forward pass does not implement are rejected rather than ignored.
    public static func config(folder: URL) throws -> LlamaConfig {
        let json = try JSONObject(contentsOf: folder.appendingPathComponent(configFile))
        func unsupported(_ field: String, _ reason: String) -> ModelFormatError {
            .invalidConfig(file: json.file, field: field, reason: reason)
        }
        if let type = try json.optionalString("model_type"), type != "llama" {
            throw unsupported("model_type", "'\(type)' is not supported (only 'llama')")
        }
        if let act = try json.optionalString("hidden_act"), act != "silu" {
            throw unsupported("hidden_act", "'\(act)' is not supported (only 'silu')")
        }
        if json.has("rope_scaling") { throw unsupported("rope_scaling", "RoPE scaling is not supported") }
        for bias in ["attention_bias", "mlp_bias"] {
            if try json.optionalBool(bias) == true { throw unsupported(bias, "linear biases are not supported") }
        }
        let dim = try json.int("hidden_size")
        let heads = try json.int("num_attention_heads")
        if let headDim = try json.optionalInt("head_dim"), heads > 0, headDim * heads != dim {
            throw unsupported("head_dim", "\(headDim) × \(heads) heads ≠ hidden_size \(dim)")
        }
        return LlamaConfig(
            dim: dim,
            hiddenDim: try json.int("intermediate_size"),
            layerCount: try json.int("num_hidden_layers"),
            headCount: heads,
            kvHeadCount: try json.optionalInt("num_key_value_heads") ?? heads,
            vocabSize: try json.int("vocab_size"),
            contextLength: try json.optionalInt("max_position_embeddings") ?? 2048,
            ropeTheta: Float(try json.optionalDouble("rope_theta") ?? 10000),
            normEps: Float(try json.optionalDouble("rms_norm_eps") ?? 1e-6),
            ropeStyle: .rotateHalf,
            tiedEmbeddings: try json.optionalBool("tie_word_embeddings") ?? false)
    }

    /// All weights as float32, each tensor's shape checked against config.json. The head is tied
    /// when config.json says so or when there is no `lm_head.weight`.
    public static func weights(folder: URL) throws -> LlamaWeights {
        var c = try config(folder: folder)
        let source = folder.appendingPathComponent(configFile).path
        try c.validate(source: source)
        let ckpt = try SafetensorsCheckpoint(folder: folder)
        c.tiedEmbeddings = c.tiedEmbeddings || !ckpt.contains("lm_head.weight")
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
            Matrix(rows: rows, cols: cols, storage: try ckpt.floats(name, shape: [rows, cols]))
        }
        func vector(_ name: String, _ n: Int) throws -> [Float] { try ckpt.floats(name, shape: [n]) }
        let layers = try (0..<c.layerCount).map { i -> LlamaLayerWeights in
            let p = "model.layers.\(i)."
            return LlamaLayerWeights(
                attnNorm: try vector(p + "input_layernorm.weight", c.dim),
                wq: try matrix(p + "self_attn.q_proj.weight", c.dim, c.dim),
                wk: try matrix(p + "self_attn.k_proj.weight", c.kvDim, c.dim),
                wv: try matrix(p + "self_attn.v_proj.weight", c.kvDim, c.dim),
                wo: try matrix(p + "self_attn.o_proj.weight", c.dim, c.dim),
                ffnNorm: try vector(p + "post_attention_layernorm.weight", c.dim),
                gate: try matrix(p + "mlp.gate_proj.weight", c.hiddenDim, c.dim),
                up: try matrix(p + "mlp.up_proj.weight", c.hiddenDim, c.dim),
                down: try matrix(p + "mlp.down_proj.weight", c.dim, c.hiddenDim))
        }
        let weights = LlamaWeights(
            config: c, tokenEmbedding: try matrix("model.embed_tokens.weight", c.vocabSize, c.dim), layers: layers,
            finalNorm: try vector("model.norm.weight", c.dim),
            output: c.tiedEmbeddings ? nil : try matrix("lm_head.weight", c.vocabSize, c.dim))
        try weights.validateShapes(source: source)
        return weights
    }
}
