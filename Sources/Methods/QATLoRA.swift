import Models
import Quantization
import Tensor
import Training

/// QAT-LoRA, the L4Q paper's "straight integration" baseline (§3.1): y = x Q_{s,b}(W0)ᵀ + α·x Aᵀ Bᵀ
/// with s and b learned LSQ+-style on the frozen W0 and a float LoRA path trained at the same time
/// (α = alpha / rank). The s, b updates see only W_q and the adapter updates only A and B, which is
/// the decoupling the paper criticises. It runs as autograd would (`LearnedStepLinear` keeps each
/// layer's W_q for the backward), so its training memory is the naive integration's, the figure
/// Table 1 compares L4Q with. Deployed mixed ("4&16"): packed codes plus the unmerged adapter.
///
/// Options: `bits`, `groupSize` (or `extra.perChannel = 1`), `rank`, `alpha`, `dropout`, `targets`
/// (projections without an adapter still learn s and b), `extra.lsqGradientScale`.
public final class QATLoRA: FineTuningMethod {
    public static let name = "qat-lora"
    public static let version = "1"
    public let options: MethodOptions
    let layout: LayerQuantization
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: LayerQuantization.extraKeys)
        layout = try LayerQuantization(options, extra: extra)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try layout.validate(for: context.weights.config)
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        let scratch = WeightScratch()
        let config = LoRAConfig(rank: options.rank, alpha: options.alpha, dropout: options.dropout, targets: options.targets)
        return TrainableLlama(context.weights) { site, dense in
            let quantized = LearnedStepLinear(base: dense, trainable: false, quantizer: layout.learnedStep(inputs: dense.inFeatures),
                                              name: site.description, scratch: scratch)
            guard options.targets.contains(site.projection) else { return quantized }
            return QATLoRALinear(quantized, adapter: LoRALinear(base: quantized, config: config, name: site.description, random: &random))
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "qat-lora", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0.01))]
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let weights = try prepared(base, Self.name)
        var budget = BitBudget()
        let exported = try assembledModel(weights) { site in
            let layer = model.layer(site)
            guard let quantized = (layer as? QATLoRALinear)?.quantized ?? layer as? LearnedStepLinear else {
                throw MethodError.notMergeable(method: Self.name, reason: "\(site) is not a QAT-LoRA layer")
            }
            let q = quantized.quantizedMatrix(layout)
            budget.add(q)
            let packed = QuantizedLinear(try PackedWeights(q))
            guard let adapter = (layer as? QATLoRALinear)?.adapter else { return packed }
            budget.addFloat16(adapter.a.count + adapter.b.count)
            return UnmergedAdapter(base: packed, adapter: adapter)
        }
        return ExportedModel(model: exported, precision: .mixed(bits: options.bits), bitsPerWeight: budget.perWeight,
                             mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
    }
}

/// A LoRA adapter around a learned-step quantized base: forward and input gradient through the
/// adapter (which calls the base), then the base's own s and b gradients from the same dy and x.
public final class QATLoRALinear: TrainableLinear {
    public let quantized: LearnedStepLinear
    public let adapter: LoRALinear

    init(_ quantized: LearnedStepLinear, adapter: LoRALinear) {
        self.quantized = quantized
        self.adapter = adapter
    }

    public var inFeatures: Int { quantized.inFeatures }
    public var outFeatures: Int { quantized.outFeatures }
    public var parameters: [Parameter] { quantized.parameters + adapter.parameters }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        adapter.apply(x, rows: rows, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        adapter.forward(x, rows: rows, into: y, random: random)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        adapter.backward(dy, input: x, rows: rows, into: dx, accumulate: accumulate)
        quantized.weightBackward(dy, input: x, rows: rows)
    }
}

/// The deployed mixed-precision layer: packed base plus the float adapter, y = base(x) + α·(x Aᵀ) Bᵀ,
/// with the same two sgemm calls as `LoRALinear`'s inference path. Its decode mode is its base's
/// (a packed base decodes as an integer model's layer does; a dense base has none).
public final class UnmergedAdapter: LinearOperator, DecodeActivationSelectable {
    public let base: any LinearOperator
    /// A (rank, in), B (out, rank) and the adapter's scale alpha / rank.
    public let a: Matrix, b: Matrix, scale: Float
    private let xa = FloatBuffer()

    public init(base: any LinearOperator, a: Matrix, b: Matrix, scale: Float) {
        self.base = base
        self.a = a
        self.b = b
        self.scale = scale
    }

    convenience init(base: any LinearOperator, adapter: LoRALinear) {
        self.init(base: base, a: adapter.a.matrix, b: adapter.b.matrix, scale: adapter.config.scale)
    }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }

    public var decodeActivations: ActivationPrecision {
        get { (base as? DecodeActivationSelectable)?.decodeActivations ?? .float32 }
        set { (base as? DecodeActivationSelectable)?.decodeActivations = newValue }
    }

    public var decodeRows: Int {
        get { (base as? DecodeActivationSelectable)?.decodeRows ?? 1 }
        set { (base as? DecodeActivationSelectable)?.decodeRows = newValue }
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        base.apply(x, rows: rows, into: y)
        let r = a.rows, xa = self.xa.reserve(rows * r)
        a.storage.withUnsafeBufferPointer { ap in
            BLAS.gemm(transB: true, m: rows, n: r, k: inFeatures, a: x, lda: inFeatures, b: ap.baseAddress!, ldb: inFeatures,
                      c: xa, ldc: r)
        }
        b.storage.withUnsafeBufferPointer { bp in
            BLAS.gemm(transB: true, m: rows, n: outFeatures, k: r, alpha: scale, a: xa, lda: r, b: bp.baseAddress!, ldb: r,
                      beta: 1, c: y, ldc: outFeatures)
        }
    }
}
