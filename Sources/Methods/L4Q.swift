import Models
import Quantization
import Tensor
import Training

/// L4Q (Jeon, Kim & Kim, ACL 2025): quantization-aware fine-tuning of the merged weight,
/// W_q = Q_{s,b}(W0 + α·BA), with LSQ+-learned per-group step and offset, an STE, and the
/// memory-lean hand-written backward (`L4QLinear`). Every projection of every block is quantized
/// (the `targets` get an adapter, the rest learn s and b only); embeddings, norms and the head stay
/// in float. The export is fully integer: codes plus (s, z) per group, no adapter branch, computing
/// the training forward's fake-quantized model bit for bit on batched input.
///
/// Options: `bits`, `groupSize` (or `extra.perChannel = 1`), `rank`, `alpha` (α = alpha / rank, the
/// Lit-GPT convention), `extra.lsqGradientScale` (see `LearnedStepQuantizer.GradientScale`),
/// `extra.init` (0 L4Q_init, the default; 1 Asymm; 2 Symm; 3 LSQ+init: App. B's comparison). The
/// paper's defaults: r = 4, group 128 (64 for small models), AdamW with weight decay 0.01, LR 5e-5…2e-4.
///
/// The export's metrics carry Table 4's errors summed over every quantized layer, at the start
/// (`initQuantizationError`, `initClippingError`) and after training (`postQuantizationError`,
/// `postClippingError`), as defined by `LearnedStepQuantizer.errors`.
public final class L4Q: FineTuningMethod {
    public static let name = "l4q"
    /// 3: the merge W0 + α·BA runs in fp32 in bf16 fine-tunes too (it took bf16 in most row blocks).
    public static let version = "3"
    public let options: MethodOptions
    let layout: LayerQuantization
    private var base: LlamaWeights?
    private var initialErrors: (quantization: Double, clipping: Double)?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        try requireNoDropout(options, method: Self.name)
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: LayerQuantization.extraKeys)
        layout = try LayerQuantization(options, extra: extra)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try layout.validate(for: context.weights.config)
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        let scratch = WeightScratch(), scale = options.alpha / Float(options.rank)
        let model = TrainableLlama(context.weights) { site, dense in
            L4QLinear(base: dense, rank: options.targets.contains(site.projection) ? options.rank : 0, scale: scale,
                      quantizer: layout.learnedStep(inputs: dense.inFeatures), name: site.description,
                      scratch: scratch, random: &random)
        }
        initialErrors = Self.errors(model)
        return model
    }

    /// E_quant and E_clip summed over every layer of `model`.
    static func errors(_ model: TrainableLlama) -> (quantization: Double, clipping: Double) {
        var total = (quantization: 0.0, clipping: 0.0)
        for l in model.blocks.indices {
            for p in Projection.allCases {
                guard let layer = model.layer(LinearSite(layer: l, projection: p)) as? L4QLinear else { continue }
                let e = layer.quantizationErrors()
                total.quantization += e.quantization
                total.clipping += e.clipping
            }
        }
        return total
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "l4q", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0.01))]
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        var result = try integerExport(model, base: try prepared(base, Self.name), bits: options.bits) { site, layer in
            guard let layer = layer as? L4QLinear else {
                throw MethodError.notMergeable(method: Self.name, reason: "\(site) is not an L4Q layer")
            }
            return layer.quantizedMatrix(layout)
        }
        let post = Self.errors(model)
        result.metrics = ["postQuantizationError": post.quantization, "postClippingError": post.clipping]
        if let e = initialErrors {
            result.metrics["initQuantizationError"] = e.quantization
            result.metrics["initClippingError"] = e.clipping
        }
        return result
    }
}
