import Foundation
import Models

/// The config.json transformers (4.x and 5.x) reads for a model qaft holds as a `LlamaConfig`: a
/// GGUF-sourced model has no Hugging Face config to copy.
///
/// The architecture follows the biases: none, or all of q/k/v/o and/or all of gate/up/down, is
/// `LlamaForCausalLM` (`attention_bias`, `mlp_bias`); q/k/v only is `Qwen2ForCausalLM`. RoPE goes
/// in the legacy `rope_theta` + `rope_scaling` keys, which both majors read (5.x folds them into
/// `rope_parameters`).
enum HuggingFaceConfig {
    /// config.json's fields; `bos`/`eos` from the tokenizer, `extra` (quantization_config, dtypes)
    /// added as they are. Refuses what these architectures cannot state.
    static func json(_ weights: LlamaWeights, bos: Int?, eos: Int?, extra: [String: Any]) throws -> [String: Any] {
        let c = weights.config
        func refuse(_ reason: String) -> ExportError { .unsupportedModel(format: "GPTQ", reason: reason) }
        guard c.ropeStyle == .rotateHalf else { throw refuse("q/k rows are in llama.cpp's interleaved order, not Hugging Face's") }
        guard c.slidingWindow == nil else { throw refuse("a sliding window of \(c.slidingWindow!) (Mistral/Qwen2 configs are not written)") }
        let attention: [Projection] = [.q, .k, .v, .o], mlp: [Projection] = [.gate, .up, .down]
        let present = Set(weights.layers.flatMap { $0.biases.keys })
        guard weights.layers.allSatisfy({ Set($0.biases.keys) == present }) else { throw refuse("layers differ in which projections have biases") }
        var config: [String: Any]
        switch present {
        case [.q, .k, .v]:
            config = ["architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "use_sliding_window": false]
        case let p where [[], Set(attention)].contains(p.intersection(attention)) && [[], Set(mlp)].contains(p.intersection(mlp)):
            config = ["architectures": ["LlamaForCausalLM"], "model_type": "llama",
                      "attention_bias": p.contains(.q), "mlp_bias": p.contains(.gate)]
        default:
            throw refuse("biases on \(present.map(\.huggingFaceName).sorted()) fit neither LlamaForCausalLM nor Qwen2ForCausalLM")
        }
        let scaling: Any
        switch c.ropeScaling {
        case .none: scaling = NSNull()
        case .linear(let factor): scaling = ["rope_type": "linear", "factor": factor] as [String: Any]
        case .llama3(let factor, let low, let high, let original):
            scaling = ["rope_type": "llama3", "factor": factor, "low_freq_factor": low, "high_freq_factor": high,
                       "original_max_position_embeddings": original] as [String: Any]
        case .frequencyFactors:
            throw refuse("RoPE scaling given only as llama.cpp's per-frequency factors (rope_freqs), not the rule transformers needs")
        }
        config.merge([
            "hidden_size": c.dim, "intermediate_size": c.hiddenDim, "num_hidden_layers": c.layerCount,
            "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount, "head_dim": c.headDim,
            "hidden_act": "silu", "max_position_embeddings": c.contextLength, "rms_norm_eps": decimal(c.normEps),
            "rope_theta": decimal(c.ropeTheta), "rope_scaling": scaling, "vocab_size": c.vocabSize,
            "tie_word_embeddings": weights.output == nil, "use_cache": true,
            "bos_token_id": bos.map { $0 as Any } ?? NSNull(), "eos_token_id": eos.map { $0 as Any } ?? NSNull(),
        ]) { a, _ in a }
        config.merge(extra) { _, b in b }
        return config
    }

    /// The shortest decimal that reads back as `x` (1e-05, not float32's 9.999999747378752e-06 as a double).
    private static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
}
