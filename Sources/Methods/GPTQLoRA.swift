import Models
import Quantization
import Tensor
import Training

/// GPTQ+LoRA ("4&16"): the GPTQ-quantized base frozen, a float LoRA on the target projections
/// trained with AdamW, and the adapter left unmerged at deployment (a low-bit base plus a 16-bit
/// path). Options: those of `gptq` (bits, groupSize, extra.actOrder) and of LoRA (rank, alpha,
/// dropout, targets). Needs `MethodContext.calibration`. The frozen base is the GPTQ grid itself
/// (`GridLinear`, whose weight is bit-identical to the dequantized model's), so the deployed model
/// runs packed low-bit kernels under its float adapters.
public final class GPTQLoRA: FineTuningMethod {
    public static let name = "gptq-lora"
    public static let version = "2"
    public let options: MethodOptions
    private let gptq: GPTQMethod
    private var base: QuantizedModel?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        gptq = try GPTQMethod(options: options)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        let q = try gptq.quantize(context)
        base = q
        var random = SeededRandom(seed: context.seed)
        let grids = QuantizedBase(q)
        return TrainableLlama(q.weights) { site, _ in
            FrozenBaseLoRA(options: options).wrap(site, GridLinear(grids.grid(site)), random: &random)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        FrozenBaseLoRA(options: options).parameterGroups(model)
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let q = try prepared(base, Self.name)
        return try FrozenBaseLoRA(options: options).export(model, weights: q.weights, baseBitsPerWeight: q.bitsPerWeight)
    }
}
