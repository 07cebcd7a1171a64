import Models
import Quantization
import Tensor
import Training

/// LoTA-QAF (Chen et al. 2025; lota-qaf.md): a frozen b-bit asymmetric base (GPTQ in the paper),
/// a ternary adapter A, B ∈ {−1, 0, 1} on the target projections whose product moves each integer
/// code by at most one grid step (threshold ω, boundary masks) plus a per-(row, group) fractional
/// offset folded into the zero point, trained with t-SignSGD and merged losslessly: the exported
/// model is fully integer ("b" in the tables) and computes the training form bit for bit.
///
/// Options: `rank` (r, paper 64; 16 with ω = 12 is the fast profile), `bits`, `groupSize`;
/// `extra["omega"]` ω in (0, r), default 0.75·r (0.875·r for ViGGO); `extra["paperOffset"] = 1`
/// uses the paper's μ = groupmean(W̃) instead of the code's groupmean(W̃)/ω (default, §1.10 #1);
/// `extra["steps"]` the run's optimizer steps, which set t-SignSGD's schedule (default 300, the
/// code's Alpaca value: pass the real count); `extra["base"]` 1 = GPTQ (default, the paper's; needs
/// calibration windows), 0 = RTN.
/// Train without gradient clipping (`TrainingConfig.maxGradientNorm = nil`, §1.6): the sign rule
/// ignores gradient scale, and the code sets `max_grad_norm=None`.
public final class LoTAQAF: FineTuningMethod {
    public static let name = "lota-qaf"
    public static let version = "1"
    public let options: MethodOptions
    public let omega: Float
    public let paperOffset: Bool
    public let steps: Int
    public let baseQuantizer: BaseQuantizer
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        try requireNoDropout(options, method: Self.name)
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["omega", "paperOffset", "steps", "base"])
        let r = Double(options.rank)
        omega = Float(try extra.number("omega", default: 0.75 * r, requirement: "in (0, rank = \(options.rank))") { $0 > 0 && $0 < r })
        paperOffset = try extra.flag("paperOffset")
        steps = try extra.count("steps", default: 300)
        baseQuantizer = try extra.base(default: .gptq)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try options.validateQuantization(for: context.weights.config)
        let grids = try QuantizedBase.make(context, bits: options.bits, groupSize: options.groupSize, quantizer: baseQuantizer,
                                           method: Self.name)
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        return TrainableLlama(context.weights) { site, _ -> any TrainableLinear in
            options.targets.contains(site.projection)
                ? TernaryAdapter(base: grids.grid(site), rank: options.rank, omega: omega, paperOffset: paperOffset,
                                 name: site.description, random: &random)
                : FrozenLinear(GridLinear(grids.grid(site)))
        }
    }

    /// Every ternary factor under t-SignSGD: no learning rate, no state.
    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "ternary", parameters: model.trainableParameters, optimizer: TernarySignSGD(totalSteps: steps))]
    }

    /// The adjustment statistics of the model's current adapters, summed over layers.
    public static func statistics(_ model: TrainableLlama) -> TernaryStatistics {
        model.blocks.indices.flatMap { l in Projection.allCases.map { LinearSite(layer: l, projection: $0) } }
            .compactMap { model.layer($0) as? TernaryAdapter }
            .reduce(TernaryStatistics()) { $0 + $1.statistics }
    }

    /// Codes q + Ŵ and zeros z − μ written into plain integer-grid layers; the adapters are dropped.
    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let weights = try prepared(base, Self.name)
        let exported = try assembledModel(weights) { site -> any LinearOperator in
            switch model.layer(site) {
            case let t as TernaryAdapter: return GridLinear(t.mergedGrid)
            case let f as FrozenLinear: return f.base
            case let other: throw MethodError.notMergeable(method: Self.name, reason: "\(site) is a \(type(of: other))")
            }
        }
        var result = ExportedModel(
            model: exported, precision: .integer(bits: options.bits),
            bitsPerWeight: uniformBitsPerWeight(bits: options.bits, groupSize: options.groupSize),
            mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
        result.metrics = Self.statistics(model).metrics
        return result
    }
}
