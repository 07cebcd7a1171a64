import Models
import Quantization
import Tensor
import Training

/// OmniQuant (Shao et al., ICLR 2024) as the weight-only PTQ baseline of L4Q's tables ("OmniQ"):
/// learnable weight clipping (`LearnableClippingLinear`) trained block by block to reconstruct each
/// block's float output. Like upstream `omniquant.py`: the targets are the float model's block
/// outputs on float inputs, the quantized block reads the outputs of the already-quantized blocks
/// before it, the loss is the mean squared error, AdamW with weight decay 0 on γ and β only, one
/// calibration window per step, windows in order each epoch. Learnable equivalent transforms
/// (LET) are left out: they matter for activation quantization, and this baseline is weight-only.
/// The export is fully integer and packed.
///
/// Options: `bits`, `groupSize` (a positive multiple of 16 dividing every input width);
/// `extra["epochs"]` (default 5; upstream 20 over 128 windows of 2048 tokens, scaled down with the
/// calibration set), `extra["learningRate"]` (default 1e-2, upstream `lwc_lr`). Needs
/// `MethodContext.calibration`.
public final class OmniQuant: FineTuningMethod {
    public static let name = "omniquant"
    public static let version = "1"
    public static let isPostTraining = true
    public let options: MethodOptions
    let epochs: Int
    let learningRate: Float
    private var base: (weights: LlamaWeights, grids: [LinearSite: QuantizedMatrix])?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["epochs", "learningRate"])
        epochs = try extra.count("epochs", default: 5)
        learningRate = Float(try extra.number("learningRate", default: 1e-2, requirement: "positive") { $0 > 0 })
        try options.requirePackable()
        self.options = options
    }

    /// A model whose projections are all learnable-clipping layers over `weights`.
    func clippingModel(_ weights: LlamaWeights) throws -> TrainableLlama {
        let workspace = LearnableClippingLinear.Workspace()
        return try TrainableLlama(weights) { site, dense in
            try LearnableClippingLinear(weight: dense.weight, bits: options.bits, groupSize: options.groupSize,
                                        name: site.description, workspace: workspace)
        }
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try options.validateQuantization(for: context.weights.config)
        let windows = context.calibration
        guard !windows.isEmpty else {
            throw MethodError.invalidOption(option: "calibration", value: "[]",
                                            reason: "\(Self.name) needs calibration token windows in MethodContext.calibration")
        }
        let weights = context.weights, float = Llama(weights), model = try clippingModel(weights)
        let batches = windows.map { TokenBatch(sequences: [$0]) }
        var targets = try batches.map { try float.embed($0) }
        var inputs = targets
        for l in weights.layers.indices {
            for j in batches.indices { try float.runBlocks(l..<(l + 1), hidden: &targets[j], batch: batches[j]) }
            _ = try reconstruct(block: l, model, inputs: inputs, targets: targets, batches: batches)
            for j in batches.indices {
                let out = try model.forwardBlocks(l..<(l + 1), input: inputs[j], tokens: batches[j], random: nil)
                inputs[j] = Array(UnsafeBufferPointer(start: out, count: inputs[j].count))
            }
        }
        var grids: [LinearSite: QuantizedMatrix] = [:]
        for l in weights.layers.indices {
            for p in Projection.allCases {
                let site = LinearSite(layer: l, projection: p)
                grids[site] = (model.layer(site) as! LearnableClippingLinear).quantized()
            }
        }
        base = (weights, grids)
        return TrainableLlama(weights) { site, _ in FrozenLinear(GridLinear(grids[site]!)) }
    }

    /// Trains block `l`'s clipping on (inputs → targets) for `epochs` passes; returns the mean squared
    /// reconstruction error before and after.
    func reconstruct(block l: Int, _ model: TrainableLlama, inputs: [[Float]], targets: [[Float]],
                     batches: [TokenBatch]) throws -> (initial: Double, final: Double) {
        let range = l..<(l + 1)
        let parameters = Projection.allCases.flatMap { model.layer(LinearSite(layer: l, projection: $0)).parameters }
        let optimizer = AdamW(weightDecay: 0)
        let initial = try error(range, model, inputs, targets, batches)
        var step = 0, gradient = [Float]()
        for _ in 0..<epochs {
            for j in batches.indices {
                for p in parameters { p.zeroGradient() }
                let out = try model.forwardBlocks(range, input: inputs[j], tokens: batches[j], random: SeededRandom(seed: 0))
                let n = targets[j].count, scale = 2 / Float(n)
                gradient = (0..<n).map { scale * (out[$0] - targets[j][$0]) }
                _ = model.backwardBlocks(range, outputGradient: gradient, tokens: batches[j])
                step += 1
                optimizer.update(parameters, learningRate: learningRate, step: step)
            }
        }
        return (initial, try error(range, model, inputs, targets, batches))
    }

    /// Mean squared error of the blocks' outputs over all windows.
    func error(_ range: Range<Int>, _ model: TrainableLlama, _ inputs: [[Float]], _ targets: [[Float]],
               _ batches: [TokenBatch]) throws -> Double {
        var sum = 0.0, count = 0
        for j in batches.indices {
            let out = try model.forwardBlocks(range, input: inputs[j], tokens: batches[j], random: nil)
            for (i, t) in targets[j].enumerated() { sum += Double((out[i] - t) * (out[i] - t)) }
            count += targets[j].count
        }
        return sum / Double(count)
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] { [] }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let (weights, grids) = try prepared(base, Self.name)
        var budget = BitBudget()
        let exported = try assembledModel(weights) { site in
            budget.add(grids[site]!)
            return QuantizedLinear(try PackedWeights(grids[site]!))
        }
        return ExportedModel(model: exported, precision: .integer(bits: options.bits), bitsPerWeight: budget.perWeight,
                             mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
    }
}
