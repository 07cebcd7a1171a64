import Models
import Quantization
import Tensor
import Training

/// PEQA (Kim et al., NeurIPS 2023): round-to-nearest quantize every projection on an asymmetric
/// b-bit grid with integer zero points, freeze the codes and zeros, and fine-tune only the
/// per-group scales with AdamW: W_q = s·(c − z), ∂L/∂s_g = Σ_{k∈g} (∂L/∂W_q)_k·(c_k − z_g). The
/// float W0 is dropped after quantization. The export is fully integer and bit-identical to the
/// training forward on batched input.
///
/// Options: `bits`, `groupSize` (or `extra.perChannel = 1`), `targets` (projections whose scales
/// train; the others stay at their RTN scales).
public final class PEQA: FineTuningMethod {
    public static let name = "peqa"
    public static let version = "1"
    public let options: MethodOptions
    let layout: LayerQuantization
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["perChannel"])
        layout = try LayerQuantization(options, extra: extra)
        guard !options.targets.isEmpty else {
            throw MethodError.invalidOption(option: "targets", value: "[]", reason: "needs at least one projection")
        }
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try layout.validate(for: context.weights.config)
        base = context.weights
        let scratch = WeightScratch()
        let grid = try UniformQuantizer(bits: options.bits, grid: .asymmetric)
        return try TrainableLlama(context.weights) { site, dense in
            PEQALinear(try grid.quantize(dense.weight, groupSize: layout.groupSize(inputs: dense.inFeatures)),
                       trainable: options.targets.contains(site.projection), name: site.description, scratch: scratch)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "peqa", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0))]
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try integerExport(model, base: try prepared(base, Self.name), bits: options.bits) { site, layer in
            guard let layer = layer as? PEQALinear else {
                throw MethodError.notMergeable(method: Self.name, reason: "\(site) is not a PEQA layer")
            }
            var q = layout.emptyMatrix(rows: layer.outFeatures, cols: layer.inFeatures)
            q.codes = layer.grid.codes
            q.zeros = layer.grid.zeros
            q.scales = layer.scale.value.array(layer.scale.count)
            return q
        }
    }
}

/// A frozen integer grid with trainable per-group scales. W_q = s·(c − z) is rebuilt in the shared
/// scratch for each product, element for element as `PackedWeights` dequantizes it.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); codes, W_q, G (out, in); s, z (out, in / groupSize).
public final class PEQALinear: TrainableLinear {
    /// The RTN codes and zeros (frozen) and the initial scales.
    public let grid: QuantizedMatrix
    public let scale: Parameter
    private let scratch: WeightScratch

    public init(_ grid: QuantizedMatrix, trainable: Bool, name: String, scratch: WeightScratch) {
        self.grid = grid
        self.scratch = scratch
        scale = Parameter(name: name + ".peqa_scale", rows: grid.rows, cols: grid.groupCount, trainable: trainable)
        grid.scales.withUnsafeBufferPointer { scale.value.pointer.update(from: $0.baseAddress!, count: scale.count) }
    }

    public var inFeatures: Int { grid.cols }
    public var outFeatures: Int { grid.rows }
    public var parameters: [Parameter] { [scale] }

    /// Calls `body(group index, first weight index, scale, zero)` for every group.
    private func forEachGroup(_ body: (Int, Int, Float, Float) -> Void) {
        let gc = grid.groupCount, s = scale.value.pointer
        grid.zeros.withUnsafeBufferPointer { z in
            for r in 0..<grid.rows {
                for g in 0..<gc { body(r * gc + g, r * grid.cols + g * grid.groupSize, s[r * gc + g], z[r * gc + g]) }
            }
        }
    }

    /// W_q into the shared scratch.
    private func quantizedWeight() -> UnsafeMutablePointer<Float> {
        let w = scratch.weight.reserve(grid.rows * grid.cols), gs = grid.groupSize
        grid.codes.withUnsafeBufferPointer { c in
            forEachGroup { _, start, s, z in
                for i in start..<(start + gs) { w[i] = s * (Float(c[i]) - z) }
            }
        }
        return w
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Linear.forward(x, weight: quantizedWeight(), rows: rows, in: inFeatures, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures, gs = grid.groupSize
        if scale.isTrainable {
            let g = scratch.gradient.reserve(m * n), ds = scale.gradient.pointer
            BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: g, ldc: n)
            grid.codes.withUnsafeBufferPointer { c in
                forEachGroup { i, start, _, z in
                    var sum: Float = 0
                    for k in start..<(start + gs) { sum += g[k] * (Float(c[k]) - z) }
                    ds[i] += sum
                }
            }
        }
        Linear.backwardInput(dy, weight: quantizedWeight(), rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
    }
}
