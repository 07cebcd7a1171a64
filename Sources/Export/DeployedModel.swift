import Methods
import Models
import Quantization
import Tensor

/// A deployed model as data: the float parts (embeddings, norms, head, biases) and every
/// projection in its deployed form (`DeployedLayer`). `init(_: Llama)` reads a method's exported
/// model; `llama()` builds the `Llama` qaft evaluates from it, which computes what the exported
/// model computes (a packed layer becomes the `GridLinear` of the same codes, summed in another order).
public struct DeployedModel {
    /// The float parts; its projection matrices are the deployed layers' dequantized values.
    public var weights: LlamaWeights
    /// [layer][projection].
    public var layers: [[Projection: DeployedLayer]]

    public init(weights: LlamaWeights, layers: [[Projection: DeployedLayer]]) {
        self.weights = weights
        self.layers = layers
    }

    public var config: LlamaConfig { weights.config }

    /// llama.cpp's name of projection `site` of block `layer` (`blk.3.attn_q`), without `.weight`.
    public static func name(_ layer: Int, _ site: Projection) -> String { "blk.\(layer).\(site.ggufName)" }

    /// Reads every projection of `model` (the `Llama` of an `ExportedModel`).
    public init(_ model: Llama) throws {
        weights = model.denseWeights()
        layers = try model.blocks.enumerated().map { l, block in
            var out: [Projection: DeployedLayer] = [:]
            for p in Projection.allCases { out[p] = try DeployedLayer(block[p], site: Self.name(l, p)) }
            return out
        }
    }

    /// A whole-model quantization (a `qaft quantize` output) as deployed: its packed or mixed layers.
    public init(_ q: QuantizedModel) throws {
        try self.init(q.llama())
    }

    /// The model qaft evaluates.
    public func llama() throws -> Llama {
        let model = Llama(weights)
        for l in model.blocks.indices {
            for p in Projection.allCases { model.blocks[l][p] = try layers[l][p]!.linear(site: Self.name(l, p)) }
        }
        return model
    }
}
