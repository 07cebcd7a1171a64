import Models
import Quantization
import Tensor
import Training

/// QA-LoRA (Xu et al.): a frozen b-bit asymmetric base and a LoRA whose input is x average-pooled
/// over each quantization group, so (α/r)·B·A is one number per (row, group) and merges exactly into
/// that group's zero point. The export is fully integer ("b"): the base's codes, new fractional zeros.
///
/// Options: `rank`, `alpha` (scale α/r), `bits`, `groupSize`; `extra["base"]` 1 = GPTQ (default, as
/// QA-LoRA and LoTA-QAF run it; needs calibration windows), 0 = RTN. Dropout is rejected: a dropped-out adapter input cannot be merged.
public final class QALoRA: FineTuningMethod {
    public static let name = "qa-lora"
    public static let version = "1"
    public let options: MethodOptions
    public let baseQuantizer: BaseQuantizer
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        try requireNoDropout(options, method: Self.name)
        baseQuantizer = try ExtraOptions(options.extra, method: Self.name, allowed: ["base"]).base(default: .gptq)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try options.validateQuantization(for: context.weights.config)
        let grids = try QuantizedBase.make(context, bits: options.bits, groupSize: options.groupSize, quantizer: baseQuantizer,
                                           method: Self.name)
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        let scale = options.alpha / Float(options.rank)
        return TrainableLlama(context.weights) { site, _ -> any TrainableLinear in
            options.targets.contains(site.projection)
                ? GroupPooledLoRA(base: grids.grid(site), rank: options.rank, scale: scale, name: site.description, random: &random)
                : FrozenLinear(GridLinear(grids.grid(site)))
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "qa-lora", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0))]
    }

    /// The adapters folded into the zero points; codes and scales unchanged.
    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        let weights = try prepared(base, Self.name)
        let exported = try assembledModel(weights) { site -> any LinearOperator in
            switch model.layer(site) {
            case let adapter as GroupPooledLoRA: return GridLinear(adapter.mergedGrid)
            case let f as FrozenLinear: return f.base
            case let other: throw MethodError.notMergeable(method: Self.name, reason: "\(site) is a \(type(of: other))")
            }
        }
        return ExportedModel(model: exported, precision: .integer(bits: options.bits),
                             bitsPerWeight: uniformBitsPerWeight(bits: options.bits, groupSize: options.groupSize),
                             mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
    }
}

/// QA-LoRA's adapter on a frozen integer layer, computed in its merged (zero-point) form.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); pooled x P (rows, G) with G = in / g groups;
/// A, dA (r, G); B, dB (out, r); M = B·A, dM (out, G); codes q (out, in); s, z, z' (out, G).
/// The paper's y = x·W_qᵀ + c·P·Aᵀ·Bᵀ (c = α/r) adds c·M[j, grp]/g to every weight of the group,
/// i.e. moves its zero to z' = z − c·M/(g·s). The forward evaluates exactly that: W = s·(q − z'),
/// y = x·Wᵀ, so the export (`mergedGrid`) is the training forward bit for bit.
/// Backward: dM = c·dyᵀ·P (∂W/∂M = c/g on the group's g weights), dA = Bᵀ·dM, dB = dM·Aᵀ, dx = dy·W.
/// Saved: W and z', rebuilt only when A or B changed.
public final class GroupPooledLoRA: TrainableLinear {
    public let base: QuantizedMatrix
    public let a: Parameter
    public let b: Parameter
    public let scale: Float
    private var merged: QuantizedMatrix
    private var snapshot = ParameterSnapshot()
    private let weight = FloatBuffer(), product = FloatBuffer(), pooled = FloatBuffer()

    /// A Kaiming-uniform over the pooled width (bound 1/√G, as LoRA), B = 0.
    public init(base: QuantizedMatrix, rank: Int, scale: Float, name: String, random: inout SeededRandom) {
        self.base = base
        self.scale = scale
        merged = base
        a = Parameter(name: name + ".qalora_A", rows: rank, cols: base.groupCount)
        b = Parameter(name: name + ".qalora_B", rows: base.rows, cols: rank)
        let bound = 1 / Float(base.groupCount).squareRoot()
        for i in 0..<a.count { a.value.pointer[i] = (2 * random.nextUnitFloat() - 1) * bound }
    }

    public var inFeatures: Int { base.cols }
    public var outFeatures: Int { base.rows }
    public var parameters: [Parameter] { [a, b] }
    private var rank: Int { a.rows }
    private var groups: Int { base.groupCount }

    /// The base codes and scales with the adapter folded into fractional zeros z − c·M/(g·s).
    public var mergedGrid: QuantizedMatrix {
        buildIfStale()
        return merged
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        buildIfStale()
        Linear.forward(x, weight: weight.pointer, rows: rows, in: inFeatures, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures, G = groups, r = rank, gs = base.groupSize
        let p = pooled.reserve(rows * G)
        for t in 0..<rows {
            for grp in 0..<G {
                let lo = grp * gs, hi = min(n, lo + gs)
                p[t * G + grp] = SIMDMath.sum(x + t * n + lo, hi - lo) / Float(hi - lo)
            }
        }
        let dm = product.reserve(m * G)
        BLAS.gemm(transA: true, m: m, n: G, k: rows, alpha: scale, a: dy, lda: m, b: p, ldb: G, c: dm, ldc: G)
        BLAS.gemm(transA: true, m: r, n: G, k: m, a: b.value.pointer, lda: r, b: dm, ldb: G,
                  beta: 1, c: a.gradient.pointer, ldc: G)
        BLAS.gemm(transB: true, m: m, n: r, k: G, a: dm, lda: G, b: a.value.pointer, ldb: G,
                  beta: 1, c: b.gradient.pointer, ldc: r)
        Linear.backwardInput(dy, weight: weight.pointer, rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
    }

    private func buildIfStale() {
        guard snapshot.isStale(parameters) else { return }
        _ = snapshot.update(parameters)
        let m = outFeatures, G = groups, gs = base.groupSize, n = inFeatures
        let prod = product.reserve(m * G)
        BLAS.gemm(m: m, n: G, k: rank, a: b.value.pointer, lda: rank, b: a.value.pointer, ldb: G, c: prod, ldc: G)
        for j in 0..<m {
            for grp in 0..<G {
                let k = j * G + grp, s = base.scales[k], width = Float(min(n, (grp + 1) * gs) - grp * gs)
                // A zero scale makes every weight of the group 0 whatever the zero: nothing to move.
                merged.zeros[k] = s == 0 ? base.zeros[k] : base.zeros[k] - scale * prod[k] / (width * s)
            }
        }
        merged.dequantize(into: weight.reserve(m * n))
    }
}
