import Models
import Tensor

/// A whole quantized model: every block's seven projections as packed (or mixed) layers, and the
/// float parts (embedding, norms, head) in `weights`, whose linears hold the dequantized
/// ("fake-quantized") weights, the base a quantization-aware fine-tune starts from.
///
/// After QEFT's reordering `weights` and `layers` are in the reordered coordinates (the same
/// function as the original model); `reordering` records the permutations applied.
public struct QuantizedModel: Sendable {
    public let options: ModelQuantizationOptions
    public var weights: LlamaWeights
    /// One dictionary per block with all seven sites.
    public var layers: [[Projection: QuantizedLayer]]
    public var reordering: GlobalReordering?
    /// QEFT: how the layers' own weak sets overlap with the global one, measured when the model was
    /// quantized (not stored in `QuantizedModelFile`: a model read back has none).
    public var weakColumnOverlap: WeakColumnOverlap?

    public init(options: ModelQuantizationOptions, weights: LlamaWeights, layers: [[Projection: QuantizedLayer]],
                reordering: GlobalReordering?) throws {
        let c = weights.config
        guard layers.count == c.layerCount else {
            throw QuantizationError.shapeMismatch(what: "quantized blocks", expected: [c.layerCount], found: [layers.count])
        }
        for (l, block) in layers.enumerated() {
            for site in Projection.allCases {
                let w = weights.layers[l][site]
                guard let q = block[site] else {
                    throw QuantizationError.invalidOption(option: "layers[\(l)]", value: site.rawValue, reason: "missing")
                }
                guard q.rows == w.rows, q.cols == w.cols else {
                    throw QuantizationError.shapeMismatch(what: "block \(l) \(site.rawValue)", expected: [w.rows, w.cols], found: [q.rows, q.cols])
                }
            }
        }
        self.options = options
        self.weights = weights
        self.layers = layers
        self.reordering = reordering
    }

    /// A forward-pass model running the packed kernels (float embedding, norms and head).
    public func llama(maxPositions: Int? = nil) -> Llama {
        let model = Llama(weights, maxPositions: maxPositions)
        for (l, block) in layers.enumerated() {
            for (site, layer) in block { model.blocks[l][site] = layer.linear() }
        }
        return model
    }

    /// Deployed bits per linear weight (codes, fp16 group parameters, fp16 weak columns).
    public var bitsPerWeight: Double {
        var bits = 0, count = 0
        for block in layers {
            for layer in block.values {
                bits += layer.deployedBits
                count += layer.rows * layer.cols
            }
        }
        return Double(bits) / Double(count)
    }
}
