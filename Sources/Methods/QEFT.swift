import Foundation
import Models
import Quantization
import Tensor
import Training

/// QEFT (Lee et al., EMNLP Findings 2024; qeft.md): GPTQ with OWQ's L2.4 grid search on the
/// non-weak columns, one global set of k weak residual-stream columns (q/k/v/gate/up) moved to the
/// tail by Offline Global Reordering, per-layer OWQ sets for o (gathered at run time) and down
/// (folded into gate/up rows) — all done by `ModelQuantizer` — and Weak Column Tuning: only the
/// (out, k) float weak blocks train (`WeakColumnLinear`), with AdamW. The deployed model keeps the
/// weak blocks in float next to the packed codes, so it is labelled "b&16" (`DeployedPrecision.mixed`);
/// qeft.md gives no label of its own, and its bits per weight (≈ b + 32/g + 16·k/in) count them.
///
/// Options: `bits`, `groupSize`, `weakColumns` (k ≥ 1); `extra["minMaxGrid"] = 1` replaces OWQ's
/// L2.4 range search (GPTQ's group grids and the trial quantizer scoring o/down weak columns) by
/// plain min-max ranges: a fast variant, not the paper's grid (the search is about half of the
/// quantization time, ≈ 80 s of ≈ 200 s for SmolLM2 at w4 on 2 cores); the global weak set, the
/// fold and WCT are unchanged; `extra["randomColumns"] = 1` draws the global set at random (claim
/// C3's ablation); `extra["perChannel"] = 1` quantizes each row's low-bit columns as
/// one group (for widths no packable group size divides). Needs `MethodContext.calibration`.
/// Training recipe (qeft.md §2, §6): `trainingConfig` — constant rate, no warm-up, clip 0.3,
/// weight decay 0, rate `learningRate(weakColumns:)`.
public final class QEFT: FineTuningMethod {
    public static let name = "qeft"
    /// 2: the export reports the weak-column overlap of claim C2 (`WeakColumnOverlap`).
    public static let version = "2"
    public let options: MethodOptions
    /// Min-max group ranges instead of the L2.4 search (`extra["minMaxGrid"]`).
    public let minMaxGrid: Bool
    /// One group per row (`extra["perChannel"]`).
    public let perChannel: Bool
    /// Claim C3's ablation (`extra["randomColumns"]`): k global columns drawn at random (seeded by
    /// the context's seed) instead of the top k of the summed diag(H); everything else unchanged.
    public let randomColumns: Bool
    private var base: QuantizedModel?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["minMaxGrid", "perChannel", "randomColumns"])
        minMaxGrid = try extra.flag("minMaxGrid")
        perChannel = try extra.flag("perChannel")
        randomColumns = try extra.flag("randomColumns")
        guard options.weakColumns >= 1 else {
            throw MethodError.invalidOption(option: "weakColumns", value: "\(options.weakColumns)",
                                            reason: "QEFT tunes k ≥ 1 weak columns per layer")
        }
        self.options = options
    }

    /// WCT's rate: 5e-6 at k = 128, scaled ∝ 1/√k as in the paper's k sweep (1.4e-5 at k = 8).
    public static func learningRate(weakColumns k: Int) -> Float { 5e-6 * (128 / Float(k)).squareRoot() }

    /// The WCT recipe: constant rate, no warm-up, global gradient norm clipped to 0.3.
    public static func trainingConfig(steps: Int, batchSize: Int, microBatchSize: Int, learningRate: Float,
                                      seed: UInt64 = 0) -> TrainingConfig {
        TrainingConfig(steps: steps, batchSize: batchSize, microBatchSize: microBatchSize,
                       schedule: LearningRateSchedule(peak: learningRate, warmupSteps: 0, totalSteps: steps, decay: .constant),
                       maxGradientNorm: 0.3, seed: seed)
    }

    /// The quantized, reordered base of the last `prepare`.
    public var quantizedModel: QuantizedModel? { base }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        var quantization = options.modelQuantization(.qeft, perChannel: perChannel)
        if minMaxGrid { quantization.rangeSearch = .minMax }
        if randomColumns { quantization.randomWeakColumns = context.seed }
        let q = try quantizeModel(context, quantization, method: Self.name)
        base = q
        return try TrainableLlama(q.weights) { site, dense in
            guard case .mixed(let m) = q.layers[site.layer][site.projection] else { return FrozenLinear(dense) }
            return try WeakColumnLinear(low: DenseLinear(Self.lowBitPart(m)), weak: m.weak, weakIndices: m.weakIndices,
                                        name: site.description)
        }
    }

    /// The low-bit columns at their input positions, zeros at the weak ones (they live in the float block).
    static func lowBitPart(_ m: MixedPrecisionWeights) -> Matrix {
        var w = m.dequantized()
        for r in 0..<w.rows { for c in m.weakIndices { w[r, c] = 0 } }
        return w
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "weak-columns", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0))]
    }

    /// The packed codes with the trained weak blocks; nothing is merged.
    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        var q = try prepared(base, Self.name)
        for l in q.layers.indices {
            for p in Projection.allCases {
                let site = LinearSite(layer: l, projection: p)
                guard let wct = model.layer(site) as? WeakColumnLinear,
                      case .mixed(let m) = q.layers[l][site.projection] else { continue }
                q.layers[l][site.projection] = .mixed(
                    try MixedPrecisionWeights(lowBit: m.lowBit, weak: wct.weak.matrix, weakIndices: m.weakIndices))
            }
        }
        let exported = q.llama()
        var result = ExportedModel(model: exported, precision: .mixed(bits: options.bits), bitsPerWeight: q.bitsPerWeight,
                                   mergeDifference: try logitDifference(model.inferenceModel(q.weights), exported))
        result.metrics = q.weakColumnOverlap?.metrics ?? [:]
        return result
    }
}
