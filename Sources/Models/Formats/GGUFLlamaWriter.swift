import Foundation
import Tensor

/// Writing qaft's model types as a `llama`-architecture GGUF that `GGUFFile.llamaConfig` and
/// `llamaWeights` read back bit for bit.
extension LlamaWeights {
    /// A writer holding the config as `llama.*` metadata (plus `qaft.rope_style`, since a model
    /// converted from Hugging Face keeps rotate-half RoPE) and every float tensor in float32 under
    /// llama.cpp's names, biases included. `projections: false` leaves out the seven projection
    /// weights of each block, for containers that store them in their own form (`QuantizedModelFile`).
    /// Keys for features a model does not use are left out, so a plain LLaMA writes the same bytes
    /// as before they existed (artifacts are content-addressed).
    public func ggufWriter(projections: Bool = true) throws -> GGUFWriter {
        let c = config
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.context_length", .uint32(UInt32(c.contextLength)))
        w.set("llama.embedding_length", .uint32(UInt32(c.dim)))
        w.set("llama.feed_forward_length", .uint32(UInt32(c.hiddenDim)))
        w.set("llama.block_count", .uint32(UInt32(c.layerCount)))
        w.set("llama.attention.head_count", .uint32(UInt32(c.headCount)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeadCount)))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(c.normEps))
        w.set("llama.rope.freq_base", .float32(c.ropeTheta))
        w.set(GGUFFile.ropeStyleKey, .string(c.ropeStyle.rawValue))
        if c.headDim * c.headCount != c.dim {
            w.set("llama.attention.key_length", .uint32(UInt32(c.headDim)))
            w.set("llama.attention.value_length", .uint32(UInt32(c.headDim)))
        }
        if c.ropeScaling != .none {
            let json = JSONEncoder()
            json.outputFormatting = .sortedKeys
            w.set(GGUFFile.ropeScalingKey, .string(String(decoding: try json.encode(c.ropeScaling), as: UTF8.self)))
        }
        if let window = c.slidingWindow {
            w.set("llama.attention.sliding_window", .uint32(UInt32(window)))
            if let layers = c.slidingLayers { w.set(GGUFFile.slidingLayersKey, .array(layers.map { .uint32(UInt32($0)) })) }
        }
        try w.addTensor("token_embd.weight", dims: [c.dim, c.vocabSize], floats: tokenEmbedding.storage)
        try w.addTensor("output_norm.weight", dims: [c.dim], floats: finalNorm)
        if let output { try w.addTensor("output.weight", dims: [c.dim, c.vocabSize], floats: output.storage) }
        for (l, layer) in layers.enumerated() {
            let p = "blk.\(l)."
            try w.addTensor(p + "attn_norm.weight", dims: [c.dim], floats: layer.attnNorm)
            try w.addTensor(p + "ffn_norm.weight", dims: [c.dim], floats: layer.ffnNorm)
            for site in Projection.allCases {
                if let b = layer.biases[site] { try w.addTensor(p + site.ggufName + ".bias", dims: [b.count], floats: b) }
                guard projections else { continue }
                let m = layer[site]
                try w.addTensor(p + site.ggufName + ".weight", dims: [m.cols, m.rows], floats: m.storage)
            }
        }
        return w
    }
}
