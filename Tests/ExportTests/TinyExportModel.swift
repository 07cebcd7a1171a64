import Export
import Foundation
import Methods
import Models
import Tensor

/// A deterministic random 2-block LLaMA whose widths are multiples of 32 (llama.cpp's block size;
/// stories260K's 172-wide FFN is not), and the methods' exports of it.
enum TinyExportModel {
    static let config = LlamaConfig(dim: 64, hiddenDim: 128, layerCount: 2, headCount: 4, kvHeadCount: 2, vocabSize: 96,
                                    contextLength: 64, ropeTheta: 10000, normEps: 1e-5, ropeStyle: .interleaved, tiedEmbeddings: true)

    /// Placeholder tokenizer keys: llama.cpp's export requires a tokenizer, gguf-py reads none.
    static let tokenizer: [(String, GGUFValue)] = [
        ("tokenizer.ggml.model", .string("llama")),
        ("tokenizer.ggml.tokens", .array((0..<96).map { .string("t\($0)") })),
    ]

    static func weights(seed: UInt64 = 7) -> LlamaWeights {
        var random = SeededRandom(seed: seed)
        func matrix(_ rows: Int, _ cols: Int, _ bound: Float) -> Matrix {
            Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in (2 * random.nextUnitFloat() - 1) * bound })
        }
        let c = config, kv = c.kvHeadCount * c.headDim
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attnNorm: [Float](repeating: 1, count: c.dim), wq: matrix(c.dim, c.dim, 0.2), wk: matrix(kv, c.dim, 0.2),
                              wv: matrix(kv, c.dim, 0.2), wo: matrix(c.dim, c.dim, 0.2), ffnNorm: [Float](repeating: 1, count: c.dim),
                              gate: matrix(c.hiddenDim, c.dim, 0.2), up: matrix(c.hiddenDim, c.dim, 0.2), down: matrix(c.dim, c.hiddenDim, 0.15))
        }
        return LlamaWeights(config: c, tokenEmbedding: matrix(c.vocabSize, c.dim, 1), layers: layers,
                            finalNorm: [Float](repeating: 1, count: c.dim), output: nil)
    }

    /// `method`'s export of the tiny model (prepared, not trained), with 4 calibration windows.
    /// Made deployable, as a method stage hands it on.
    static func exported(_ method: String, _ options: MethodOptions = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8),
                         weights: LlamaWeights = weights()) throws -> ExportedModel {
        let m = try MethodRegistry.make(method, options: options)
        let calibration = (0..<4).map { w in (0..<32).map { ($0 * 31 + w * 17 + 5) % config.vocabSize } }
        let exported = try m.export(try m.prepare(MethodContext(weights: weights, calibration: calibration, seed: 3)))
        try exported.makeDeployable()
        return exported
    }

    /// L4Q with the Asymm initialization (offset b ≠ 0): fractional zeros without training.
    static let fractionalL4Q = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8, extra: ["init": 1])
}
