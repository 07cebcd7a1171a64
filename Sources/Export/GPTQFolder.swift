import Foundation
import Models
import Quantization
import Tensor

/// A Hugging Face model folder in GPTQ format, the one AutoGPTQ/GPTQModel, transformers (through
/// GPTQModel) and vLLM load: `model.safetensors` with, per projection, `<name>.qweight`,
/// `.qzeros`, `.scales` (fp16), `.g_idx` (see `GPTQPacking`, `GPTQLinear`) and `.bias`; the float
/// tensors (embeddings, norms, head) under their transformers names; `config.json` with
/// `quantization_config`, `quantize_config.json`, and the source's tokenizer files.
public enum GPTQFolder {
    /// Where the model's config.json and tokenizer come from.
    public enum Source: Sendable {
        /// A Hugging Face folder (the one the model was read from): its config.json gains
        /// `quantization_config`; its tokenizer files are copied.
        case huggingFace(folder: URL)
        /// A GGUF model (`file`, for messages) whose `tokenizer.*` keys are `tokenizer`: config.json is
        /// written from the model's config (`HuggingFaceConfig`), the tokenizer files from those keys
        /// (`HuggingFaceTokenizerFiles`).
        case gguf(file: String, tokenizer: [(String, GGUFValue)])
    }

    /// How the float tensors (embeddings, norms, head, biases) are stored.
    public enum FloatType: String, Sendable {
        case float32, float16
    }

    /// Tokenizer files a Hugging Face folder may have; those present are copied.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                                 "added_tokens.json", "vocab.json", "merges.txt", "generation_config.json"]

    /// Writes the folder `to` (which must not exist) for the model whose projections are `grids`
    /// (one dictionary per layer, all seven projections, one bit width and group size) and whose
    /// float parts are `weights` (its projection matrices are not read). `format` nil picks GPTQ
    /// v1 (`gptq`, which every consumer reads) unless a zero point of 0 needs `gptq_v2`.
    ///
    /// The folder is assembled in a temporary sibling and renamed into place at the end, so a
    /// failure leaves nothing behind. A grid GPTQ cannot hold at all is refused with the reason;
    /// one it can hold only approximately (fractional zeros, non-fp16 scales) is written and
    /// reported inexact, tensor by tensor.
    public static func write(grids: [[Projection: QuantizedMatrix]], weights: LlamaWeights, source: Source, to destination: URL,
                             floatType: FloatType = .float32, format: GPTQCheckpointFormat? = nil) throws -> GPTQReport {
        let c = weights.config
        guard c.ropeStyle == .rotateHalf else {
            throw ExportError.unsupportedModel(format: "GPTQ", reason: "the model's Q/K rows are in llama.cpp's interleaved RoPE order; "
                                               + "GPTQ export takes a Hugging Face (rotate-half) model")
        }
        let (bits, groupSize) = try uniformGrid(grids, config: c)
        let chosen = format ?? (fits(grids, .gptq) ? .gptq : .gptqV2)
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) { throw ExportError.destinationExists(path: destination.path) }
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        var tensors: [GPTQReport.Tensor] = []
        var symmetric = true
        do {
            var st = SafetensorsWriter()
            func addFloat(_ name: String, _ shape: [Int], _ values: [Float]) throws {
                switch floatType {
                case .float32:
                    try st.add(name, shape: shape, floats: values)
                    tensors.append(.init(name: name, exact: true, maxAbsError: 0))
                case .float16:
                    let halves = values.map { Float16($0) }
                    let error = zip(values, halves).reduce(Float(0)) { max($0, abs($1.0 - Float($1.1))) }
                    try st.add(name, shape: shape, halves: halves.map(\.bitPattern))
                    tensors.append(.init(name: name, exact: zip(values, halves).allSatisfy { $0 == Float($1) }, maxAbsError: error))
                }
            }
            try addFloat("model.embed_tokens.weight", [c.vocabSize, c.dim], weights.tokenEmbedding.storage)
            try addFloat("model.norm.weight", [c.dim], weights.finalNorm)
            if let head = weights.output { try addFloat("lm_head.weight", [c.vocabSize, c.dim], head.storage) }
            for (i, layer) in weights.layers.enumerated() {
                let prefix = "model.layers.\(i)."
                try addFloat(prefix + "input_layernorm.weight", [c.dim], layer.attnNorm)
                try addFloat(prefix + "post_attention_layernorm.weight", [c.dim], layer.ffnNorm)
                for p in Projection.allCases {
                    let name = prefix + p.huggingFaceName, grid = grids[i][p]!
                    let g = try GPTQLinear(grid, format: chosen, name: name)
                    try st.add(name + ".qweight", shape: [grid.cols * bits / 32, grid.rows], int32s: g.qweight)
                    try st.add(name + ".qzeros", shape: [g.groups, grid.rows * bits / 32], int32s: g.qzeros)
                    try st.add(name + ".scales", shape: [g.groups, grid.rows], halves: g.scales)
                    try st.add(name + ".g_idx", shape: [grid.cols], int32s: g.gIdx)
                    tensors.append(.init(name: name, exact: g.exact, maxAbsError: g.maxAbsError))
                    symmetric = symmetric && grid.zeros.allSatisfy { $0 == Float(1 << (bits - 1)) }
                    if let b = layer.biases[p] { try addFloat(name + ".bias", [grid.rows], b) }
                }
            }
            try st.write(to: temporary.appendingPathComponent(SafetensorsCheckpoint.singleFile))
            let quantization: [String: Any] = [
                "quant_method": "gptq", "bits": bits, "group_size": groupSize, "desc_act": false, "sym": symmetric,
                "checkpoint_format": chosen.rawValue, "pack_dtype": "int32", "lm_head": false, "static_groups": false,
                "true_sequential": true,
            ]
            try writeJSON(quantization, to: temporary.appendingPathComponent("quantize_config.json"))
            switch source {
            case .huggingFace(let folder):
                try copyHuggingFace(folder, into: temporary, quantization: quantization, floatType: floatType,
                                    tied: weights.output == nil)
            case .gguf(let file, let metadata):
                let tokenizer = try HuggingFaceTokenizerFiles(metadata, file: file, contextLength: c.contextLength)
                let config = try HuggingFaceConfig.json(weights, bos: tokenizer.bos, eos: tokenizer.eos, extra: [
                    "quantization_config": quantization, "dtype": floatType.rawValue, "torch_dtype": floatType.rawValue,
                ])
                try writeJSON(config, to: temporary.appendingPathComponent("config.json"))
                try tokenizer.write(into: temporary)
            }
            try fm.moveItem(at: temporary, to: destination)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
        let files = try fm.contentsOfDirectory(atPath: destination.path).sorted()
        return GPTQReport(folder: destination, bits: bits, groupSize: groupSize, symmetric: symmetric,
                          checkpointFormat: chosen, tensors: tensors, files: files)
    }
}

extension GPTQFolder {
    /// Writes deployed `model` as `write(grids:…)` does. Every projection must be a uniform grid
    /// without an adapter; anything else (NF4, fp weak columns, a float weight, a "b&16" row's fp
    /// adapter) is refused by name. A model read from a llama.cpp GGUF (interleaved RoPE) has its q/k
    /// rows, grids and biases, put back in Hugging Face's order (`RotaryRowOrder`).
    public static func write(_ model: DeployedModel, source: Source, to destination: URL, floatType: FloatType = .float32,
                             format: GPTQCheckpointFormat? = nil) throws -> GPTQReport {
        var weights = model.weights
        let c = model.config
        let grids = try model.layers.enumerated().map { l, block in
            var out: [Projection: QuantizedMatrix] = [:]
            for p in Projection.allCases {
                let name = "model.layers.\(l).\(p.huggingFaceName)", layer = block[p]!
                guard layer.adapter == nil else {
                    throw ExportError.unrepresentable(site: name, format: "GPTQ", reason: "it computes an fp LoRA adapter beside its base "
                                                      + "(a \"b&16\" row); a GPTQ folder holds one quantized weight per projection")
                }
                guard case .grid(let q) = layer.base else {
                    throw ExportError.unrepresentable(site: name, format: "GPTQ",
                                                      reason: "a \(layer.base) has no GPTQ form (uniform integer grids only)")
                }
                guard let order = RotaryRowOrder.huggingFaceRows(p, c) else {
                    out[p] = q
                    continue
                }
                out[p] = RotaryRowOrder.rows(q, order)
                weights.layers[l].biases[p] = weights.layers[l].biases[p].map { RotaryRowOrder.rows($0, width: 1, order) }
            }
            return out
        }
        weights.config.ropeStyle = .rotateHalf
        return try write(grids: grids, weights: weights, source: source, to: destination, floatType: floatType, format: format)
    }

    /// The one bit width and group size of `grids`, after checking that they cover every layer and
    /// projection with the model's shapes.
    static func uniformGrid(_ grids: [[Projection: QuantizedMatrix]], config c: LlamaConfig) throws -> (bits: Int, groupSize: Int) {
        guard grids.count == c.layerCount else {
            throw ExportError.unsupportedModel(format: "GPTQ", reason: "\(grids.count) layers of grids for a model of \(c.layerCount) layers")
        }
        var first: (name: String, bits: Int, groupSize: Int)?
        for (i, layer) in grids.enumerated() {
            for p in Projection.allCases {
                let name = "model.layers.\(i).\(p.huggingFaceName)"
                guard let g = layer[p] else { throw ExportError.unsupportedModel(format: "GPTQ", reason: "\(name) has no grid") }
                let (rows, cols) = p.shape(c)
                guard g.rows == rows, g.cols == cols else {
                    throw ExportError.unsupportedModel(format: "GPTQ",
                                                       reason: "\(name) grid is \(g.rows)×\(g.cols), the model needs \(rows)×\(cols)")
                }
                guard g.cols % g.groupSize == 0 else {
                    throw ExportError.unrepresentable(
                        site: name, format: "GPTQ",
                        reason: "group size \(g.groupSize) does not divide its \(g.cols) inputs (GPTQ's group_size is one per model)")
                }
                if let f = first, f.bits != g.bits || f.groupSize != g.groupSize {
                    throw ExportError.unsupportedModel(
                        format: "GPTQ", reason: "\(name) is \(g.bits)-bit with groups of \(g.groupSize) but \(f.name) is \(f.bits)-bit "
                            + "with groups of \(f.groupSize): quantize_config.json holds one bit width and group size")
                }
                first = first ?? (name, g.bits, g.groupSize)
            }
        }
        guard let f = first else { throw ExportError.unsupportedModel(format: "GPTQ", reason: "the model has no layers") }
        return (f.bits, f.groupSize)
    }

    /// Whether every zero point of `grids` is one `format` stores.
    static func fits(_ grids: [[Projection: QuantizedMatrix]], _ format: GPTQCheckpointFormat) -> Bool {
        grids.allSatisfy { layer in
            layer.values.allSatisfy { g in g.zeros.allSatisfy { GPTQLinear.integerZero($0, bits: g.bits, format: format) != nil } }
        }
    }
}
