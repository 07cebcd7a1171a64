import Models
import Training

/// The floating-point model as it is: the "pretrained" row of every table. Nothing is trained.
public final class PretrainedFP: FineTuningMethod {
    public static let name = "pretrained"
    public static let version = "1"
    public static let isPostTraining = true
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {}

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        base = context.weights
        return TrainableLlama(context.weights)
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] { [] }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        ExportedModel(model: Llama(try prepared(base, Self.name)), precision: .float, bitsPerWeight: 16)
    }
}
