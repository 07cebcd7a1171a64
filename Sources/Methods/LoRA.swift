import Models
import Tensor
import Training

/// LoRA on the floating-point base (Hu et al.): W + (α/r)·BA on the target projections, AdamW on A
/// and B, merged into fp weights at export. The upper bound every quantized method is compared with.
public final class LoRA: FineTuningMethod {
    public static let name = "lora"
    public static let version = "1"
    public let options: MethodOptions
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        let config = LoRAConfig(rank: options.rank, alpha: options.alpha, dropout: options.dropout, targets: options.targets)
        return TrainableLlama(context.weights) { site, dense in
            options.targets.contains(site.projection)
                ? LoRALinear(base: dense, config: config, name: site.description, random: &random) as any TrainableLinear
                : FrozenLinear(dense)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "lora", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0))]
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let weights = try prepared(base, Self.name)
        let merged = try weights.mapLinears { site, w in
            guard let lora = model.layer(site) as? LoRALinear else { return w }
            return try lora.merged().weight
        }
        let exported = Llama(merged)
        return ExportedModel(model: exported, precision: .float, bitsPerWeight: 16,
                             mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
    }
}
