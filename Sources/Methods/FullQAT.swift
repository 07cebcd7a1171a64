import Models
import Quantization
import Tensor
import Training

/// Full quantization-aware training ("QAT" in L4Q Table 1, "LSQ" in Table 10): every projection's
/// weight trains together with its LSQ+ step and offset, W_q = Q_{s,b}(W), STE for W. Each layer
/// holds a trained copy of W, its (out × in) gradient, AdamW's two (out × in) moments and the saved
/// W_q — the memory L4Q avoids; the paper uses it only for the memory and time comparison. The
/// export is fully integer.
///
/// Options: `bits`, `groupSize` (or `extra.perChannel = 1`), `extra.lsqGradientScale`.
public final class FullQAT: FineTuningMethod {
    public static let name = "qat"
    public static let version = "1"
    public let options: MethodOptions
    let layout: LayerQuantization
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: LayerQuantization.extraKeys)
        layout = try LayerQuantization(options, extra: extra)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try layout.validate(for: context.weights.config)
        base = context.weights
        let scratch = WeightScratch()
        return TrainableLlama(context.weights) { site, dense in
            LearnedStepLinear(base: dense, trainable: true, quantizer: layout.learnedStep(inputs: dense.inFeatures),
                              name: site.description, scratch: scratch)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "qat", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0.01))]
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try integerExport(model, base: try prepared(base, Self.name), bits: options.bits) { site, layer in
            guard let layer = layer as? LearnedStepLinear else {
                throw MethodError.notMergeable(method: Self.name, reason: "\(site) is not a learned-step layer")
            }
            return layer.quantizedMatrix(layout)
        }
    }
}
