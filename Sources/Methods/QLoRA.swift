import Models
import Quantization
import Tensor
import Training

/// QLoRA (Dettmers et al.): a frozen NF4 base (blocks of 64, double-quantized absmax) with a float
/// LoRA on the target projections, AdamW on A and B, kept unmerged at export ("4&16").
///
/// Options: `rank`, `alpha`, `dropout`, `targets`; `bits` must be 4 (NF4 is a 4-bit code book; the
/// uniform re-run at other widths is `QLoRAUniform`); `groupSize` is not used (NF4's block is 64).
public final class QLoRA: FineTuningMethod {
    public static let name = "qlora"
    public static let version = "1"
    public let options: MethodOptions
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        guard options.bits == 4 else {
            throw MethodError.invalidOption(option: "bits", value: "\(options.bits)",
                                            reason: "QLoRA's NF4 base is 4-bit; use qlora-uniform for a uniform b-bit base")
        }
        _ = try ExtraOptions(options.extra, method: Self.name, allowed: [])
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        return TrainableLlama(context.weights) { site, dense in
            FrozenBaseLoRA(options: options).wrap(site, NF4Linear(dense.weight), random: &random)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        FrozenBaseLoRA(options: options).parameterGroups(model)
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try FrozenBaseLoRA(options: options).export(model, weights: prepared(base, Self.name), baseBitsPerWeight: NF4Linear.bitsPerWeight)
    }
}

/// QLoRA* as L4Q re-runs it (l4q.md §5): the NF4 base replaced by a uniform asymmetric b-bit grid
/// (RTN by default; `extra["base"] = 1` for GPTQ) with a float LoRA on top, unmerged ("b&16").
/// Options as `QLoRA`, plus `bits` and `groupSize` of the grid.
public final class QLoRAUniform: FineTuningMethod {
    public static let name = "qlora-uniform"
    public static let version = "1"
    public let options: MethodOptions
    public let baseQuantizer: BaseQuantizer
    private var base: LlamaWeights?

    public init(options: MethodOptions) throws {
        try options.validateAdapter()
        baseQuantizer = try ExtraOptions(options.extra, method: Self.name, allowed: ["base"]).base(default: .rtn)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        try options.validateQuantization(for: context.weights.config)
        let grids = try QuantizedBase.make(context, bits: options.bits, groupSize: options.groupSize, quantizer: baseQuantizer,
                                           method: Self.name)
        base = context.weights
        var random = SeededRandom(seed: context.seed)
        return TrainableLlama(context.weights) { site, _ in
            FrozenBaseLoRA(options: options).wrap(site, GridLinear(grids.grid(site)), random: &random)
        }
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        FrozenBaseLoRA(options: options).parameterGroups(model)
    }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try FrozenBaseLoRA(options: options).export(
            model, weights: prepared(base, Self.name),
            baseBitsPerWeight: uniformBitsPerWeight(bits: options.bits, groupSize: options.groupSize, zeroBits: options.bits))
    }
}

/// What QLoRA, QLoRA* and LoftQ* share: a float LoRA over a frozen quantized layer on the target
/// projections (the others stay frozen), AdamW, and an unmerged mixed-precision export.
struct FrozenBaseLoRA {
    let options: MethodOptions

    var config: LoRAConfig {
        LoRAConfig(rank: options.rank, alpha: options.alpha, dropout: options.dropout, targets: options.targets)
    }

    func wrap(_ site: LinearSite, _ base: any InputGradientLinear, random: inout SeededRandom) -> any TrainableLinear {
        options.targets.contains(site.projection)
            ? LoRALinear(base: base, config: config, name: site.description, random: &random)
            : FrozenLinear(base)
    }

    func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] {
        [ParameterGroup(name: "lora", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: 0))]
    }

    /// The trained layers as they are (quantized base + fp16 adapter path); bits per weight counts
    /// the base's storage and the adapters at 16 bits.
    func export(_ model: TrainableLlama, weights: LlamaWeights, baseBitsPerWeight: Double) throws -> ExportedModel {
        var bits = 0.0, count = 0.0
        for l in model.blocks.indices {
            for p in Projection.allCases {
                let layer = model.layer(LinearSite(layer: l, projection: p))
                let n = Double(layer.inFeatures * layer.outFeatures)
                bits += n * baseBitsPerWeight + Double(layer.parameters.reduce(0) { $0 + $1.count }) * 16
                count += n
            }
        }
        return ExportedModel(model: model.inferenceModel(weights), precision: .mixed(bits: options.bits),
                             bitsPerWeight: bits / count)
    }
}

/// A frozen NF4 layer that stores only the NF4 codes and block scales and dequantizes on the fly
/// into a temporary weight for each product (bitsandbytes' `dequantize_4bit` + matmul path).
/// Shapes: x, dx (rows, in); y, dy (rows, out); W (out, in) flattened row-major into NF4 blocks.
public final class NF4Linear: InputGradientLinear {
    /// Stored bits per weight: a 4-bit code, plus per 64-weight block an 8-bit double-quantized
    /// absmax, plus per 256 blocks an fp32 second-level absmax (and one fp32 mean per tensor).
    public static let bitsPerWeight = 4 + 8.0 / 64 + 32.0 / (64 * 256)

    public let tensor: NF4Tensor
    public let inFeatures: Int
    public let outFeatures: Int
    /// The double-quantized absmaxes decoded once (bitsandbytes decodes them per call).
    private let absmax: [Float]

    public init(_ weight: Matrix) {
        tensor = NF4Tensor(quantizing: weight.storage, doubleQuantize: true)
        inFeatures = weight.cols
        outFeatures = weight.rows
        absmax = tensor.absmax.values()
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        if rows > 1, BF16.applies(m: rows, n: outFeatures, k: inFeatures) {
            return withDequantizedBF16 { Linear.forward(x, bf16: $0, rows: rows, in: inFeatures, out: outFeatures, into: y) }
        }
        withDequantized { Linear.forward(x, weight: $0, rows: rows, in: inFeatures, out: outFeatures, into: y) }
    }

    public func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if BF16.applies(m: rows, n: inFeatures, k: outFeatures) {
            return withDequantizedBF16 {
                Linear.backwardInput(.float(dy, ld: outFeatures), bf16: $0, rows: rows, in: inFeatures, out: outFeatures,
                                     into: dx, accumulate: accumulate)
            }
        }
        withDequantized {
            Linear.backwardInput(dy, weight: $0, rows: rows, in: inFeatures, out: outFeatures, into: dx, accumulate: accumulate)
        }
    }

    /// Runs `body` on codebook[code]·absmax[block] for every weight, in a temporary buffer that
    /// lives only for the call, so the layer never holds a float copy of its weight.
    func withDequantized(_ body: (UnsafePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tensor.count) { buffer in
            decode(blocks: 0..<absmax.count, into: buffer.baseAddress!)
            body(UnsafePointer(buffer.baseAddress!))
        }
    }

    /// `withDequantized` rounded to bf16 (as `BF16.round`) for a bf16 product: a few blocks at a
    /// time decoded into a small fp32 buffer and rounded from there, on both cores, so the
    /// temporary is half the size and the fp32 weight never reaches memory.
    func withDequantizedBF16(_ body: (UnsafePointer<UInt16>) -> Void) {
        let count = tensor.count, block = NF4Tensor.blockSize, step = Self.blocksPerRounding
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: count) { out in
            BF16.staged(0..<absmax.count, by: step, bufferFloats: step * block) { blocks, buffer in
                let first = blocks.lowerBound * block, n = min(count, blocks.upperBound * block) - first
                decode(blocks: blocks, into: buffer)
                BF16.round(buffer, ld: n, rows: 1, cols: n, into: out.baseAddress! + first, ldOut: n)
            }
            body(UnsafePointer(out.baseAddress!))
        }
    }

    /// Blocks decoded per rounding pass (16 KiB of fp32: in L1).
    static let blocksPerRounding = 64

    /// codebook[code]·absmax[block] for the weights of `blocks`, the first block's first weight
    /// at out[0].
    private func decode(blocks: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let count = tensor.count, block = NF4Tensor.blockSize, origin = blocks.lowerBound * block
        NF4Tensor.codebook.withUnsafeBufferPointer { cb in
            tensor.packed.withUnsafeBufferPointer { packed in
                for blk in blocks {
                    let s = absmax[blk], lo = blk * block, hi = min(count, lo + block)
                    var i = lo
                    // Blocks hold an even number of weights, so a block starts on a byte boundary.
                    while i + 1 < hi {
                        let byte = packed[i / 2]
                        out[i - origin] = cb[Int(byte >> 4)] * s
                        out[i + 1 - origin] = cb[Int(byte & 0xF)] * s
                        i += 2
                    }
                    if i < hi { out[i - origin] = cb[Int(packed[i / 2] >> 4)] * s }
                }
            }
        }
    }
}
