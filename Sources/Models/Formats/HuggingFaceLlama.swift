import Foundation
import Tensor

/// A Hugging Face folder of a LLaMA-family model — `model_type` llama (LLaMA-1/2/3), mistral or
/// qwen2 — with config.json as transformers 4.x or 5.x writes it, safetensors weights (bf16, f16 or
/// f32, single or sharded) and tokenizer.json. Hugging Face checkpoints rotate the first half of
/// each head against the second, so the config says `.rotateHalf` and Q/K rows are used as stored.
public enum HuggingFaceLlama {
    public static let configFile = "config.json"
    public static let tokenizerFile = "tokenizer.json"

    /// What differs between the model types transformers' config classes describe.
    struct Family {
        /// `max_position_embeddings` when config.json leaves it out.
        var contextLength: Int
        /// Projections with a bias whatever the config says (Qwen2's q, k, v).
        var fixedBiases: Set<Projection>
        /// Whether `sliding_window` alone turns the window on in every layer (Mistral).
        var windowInEveryLayer: Bool
    }

    static let families: [String: Family] = [
        "llama": Family(contextLength: 2048, fixedBiases: [], windowInEveryLayer: false),
        "mistral": Family(contextLength: 131_072, fixedBiases: [], windowInEveryLayer: true),
        "qwen2": Family(contextLength: 32_768, fixedBiases: [.q, .k, .v], windowInEveryLayer: false),
    ]

    /// The model shape from config.json, with transformers' defaults for optional fields. Features
    /// the forward pass does not implement are rejected, naming the field and value, never ignored.
    public static func config(folder: URL) throws -> LlamaConfig {
        try read(folder).config
    }

    /// The config and the projections whose bias the checkpoint must hold.
    static func read(_ folder: URL) throws -> (config: LlamaConfig, biases: Set<Projection>) {
        let json = try JSONObject(contentsOf: folder.appendingPathComponent(configFile))
        func unsupported(_ field: String, _ reason: String) -> ModelFormatError {
            .invalidConfig(file: json.file, field: field, reason: reason)
        }
        let type = try json.optionalString("model_type") ?? "llama"
        guard let family = families[type] else {
            throw unsupported("model_type", "'\(type)' is not supported (only \(families.keys.sorted().joined(separator: ", ")))")
        }
        if let act = try json.optionalString("hidden_act"), act != "silu" {
            throw unsupported("hidden_act", "'\(act)' is not supported (only 'silu')")
        }
        var biases = family.fixedBiases
        if try json.optionalBool("attention_bias") == true { biases.formUnion([.q, .k, .v, .o]) }
        if try json.optionalBool("mlp_bias") == true { biases.formUnion([.gate, .up, .down]) }

        let dim = try json.int("hidden_size")
        let heads = try json.int("num_attention_heads")
        let layers = try json.int("num_hidden_layers")
        let rope = try RoPEParameters(json)
        let window = try slidingWindow(json, family: family, layers: layers)
        let config = LlamaConfig(
            dim: dim,
            hiddenDim: try json.int("intermediate_size"),
            layerCount: layers,
            headCount: heads,
            kvHeadCount: try json.optionalInt("num_key_value_heads") ?? heads,
            vocabSize: try json.int("vocab_size"),
            contextLength: try json.optionalInt("max_position_embeddings") ?? family.contextLength,
            ropeTheta: Float(rope.theta),
            normEps: Float(try json.optionalDouble("rms_norm_eps") ?? 1e-6),
            ropeStyle: .rotateHalf,
            tiedEmbeddings: try json.optionalBool("tie_word_embeddings") ?? false,
            headDim: try json.optionalInt("head_dim") ?? (heads > 0 ? dim / heads : 0),
            ropeScaling: rope.scaling,
            slidingWindow: window?.size,
            slidingLayers: window?.layers)
        return (config, biases)
    }

    /// The sliding window and its layers (nil: every layer), or nil when attention is fully causal.
    /// transformers 5.x lists each layer's kind in `layer_types`; 4.x configs say it with Mistral's
    /// `sliding_window`, or Qwen2's `use_sliding_window` + `max_window_layers` (layers from
    /// `max_window_layers` on slide).
    private static func slidingWindow(_ json: JSONObject, family: Family, layers: Int) throws -> (size: Int, layers: [Int]?)? {
        if json.has("layer_types") {
            let types = try json.required("layer_types", "an array of strings", { $0 as? [String] })
            guard types.count == layers else {
                throw ModelFormatError.invalidConfig(file: json.file, field: "layer_types",
                                                     reason: "has \(types.count) entries for \(layers) layers")
            }
            for t in types where t != "full_attention" && t != "sliding_attention" {
                throw ModelFormatError.invalidConfig(file: json.file, field: "layer_types",
                                                     reason: "'\(t)' is not supported (only full_attention, sliding_attention)")
            }
            let sliding = types.indices.filter { types[$0] == "sliding_attention" }
            if sliding.isEmpty { return nil }
            guard let size = try json.optionalInt("sliding_window") else { throw ModelFormatError.missingField(file: json.file, field: "sliding_window") }
            return (size, sliding.count == layers ? nil : sliding)
        }
        guard let size = try json.optionalInt("sliding_window") else { return nil }
        if family.windowInEveryLayer { return (size, nil) }
        guard try json.optionalBool("use_sliding_window") == true else { return nil }
        let first = try json.optionalInt("max_window_layers") ?? layers
        let sliding = Array(Swift.min(Swift.max(first, 0), layers)..<layers)
        if sliding.isEmpty { return nil }
        return (size, sliding.count == layers ? nil : sliding)
    }

    /// All weights as float32, each tensor's shape checked against config.json. The head is tied
    /// when config.json says so or when there is no `lm_head.weight`.
    public static func weights(folder: URL) throws -> LlamaWeights {
        var (c, biases) = try read(folder)
        let source = folder.appendingPathComponent(configFile).path
        try c.validate(source: source)
        let ckpt = try SafetensorsCheckpoint(folder: folder)
        c.tiedEmbeddings = c.tiedEmbeddings || !ckpt.contains("lm_head.weight")
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Matrix {
            Matrix(rows: rows, cols: cols, storage: try ckpt.floats(name, shape: [rows, cols]))
        }
        func vector(_ name: String, _ n: Int) throws -> [Float] { try ckpt.floats(name, shape: [n]) }
        let layers = try (0..<c.layerCount).map { i -> LlamaLayerWeights in
            let prefix = "model.layers.\(i)."
            return try LlamaLayerWeights(attnNorm: try vector(prefix + "input_layernorm.weight", c.dim),
                                         ffnNorm: try vector(prefix + "post_attention_layernorm.weight", c.dim)) { p in
                let (rows, cols) = p.shape(c), name = prefix + p.huggingFaceName
                return (try matrix(name + ".weight", rows, cols), biases.contains(p) ? try vector(name + ".bias", rows) : nil)
            }
        }
        let weights = LlamaWeights(
            config: c, tokenEmbedding: try matrix("model.embed_tokens.weight", c.vocabSize, c.dim), layers: layers,
            finalNorm: try vector("model.norm.weight", c.dim),
            output: c.tiedEmbeddings ? nil : try matrix("lm_head.weight", c.vocabSize, c.dim))
        try weights.validateShapes(source: source)
        return weights
    }
}

/// RoPE base and scaling from config.json: transformers 5.x's `rope_parameters` object, or 4.x's
/// `rope_theta` + `rope_scaling` (whose type is `rope_type`, or `type` in older files).
struct RoPEParameters {
    var theta: Double
    var scaling: RoPEScaling

    init(_ json: JSONObject) throws {
        let params: JSONObject?
        if json.has("rope_parameters") {
            params = try json.object("rope_parameters")
            theta = try params!.optionalDouble("rope_theta") ?? json.optionalDouble("rope_theta") ?? 10000
        } else {
            params = json.has("rope_scaling") ? try json.object("rope_scaling") : nil
            theta = try json.optionalDouble("rope_theta") ?? 10000
        }
        guard let p = params else { scaling = .none; return }
        let typeKey = p.has("rope_type") ? "rope_type" : "type"
        let type = try p.optionalString(typeKey) ?? "default"
        switch type {
        case "default":
            scaling = .none
        case "linear":
            scaling = .linear(factor: try Self.number(p, "factor"))
        case "llama3":
            scaling = .llama3(factor: try Self.number(p, "factor"), lowFrequencyFactor: try Self.number(p, "low_freq_factor"),
                              highFrequencyFactor: try Self.number(p, "high_freq_factor"),
                              originalContext: try p.int("original_max_position_embeddings"))
        default:
            throw ModelFormatError.invalidConfig(file: json.file, field: p.field(typeKey),
                                                 reason: "'\(type)' is not supported (only default, linear, llama3)")
        }
    }

    private static func number(_ p: JSONObject, _ key: String) throws -> Double {
        guard let v = try p.optionalDouble(key) else { throw ModelFormatError.missingField(file: p.file, field: p.field(key)) }
        return v
    }
}
