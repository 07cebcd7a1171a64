import Models
import Quantization
import Tensor
import Training

/// One L4Q layer (eqs. 7–14): y = x W_qᵀ with W_q = Q_{s,b}(W0 + α·BA), α = alpha / rank, s and b
/// learned per group (`LearnedStepQuantizer`). There is no separate adapter branch: the adapter
/// lives inside the quantized weight, so the deployed layer is integer codes alone.
///
/// Memory-lean by hand (§1.4): nothing weight-sized is kept between forward and backward. The
/// forward merges and fake-quantizes into the model's shared scratch (in bf16, only W_q's rounded
/// copy is layer-sized: `runsInBF16`); the backward recomputes the
/// merge, forms G = ∂L/∂W_q = dyᵀx as the one (out × in) temporary (shared scratch), and in one pass
/// per L2-sized block of rows turns the merged weight into W_q and G into M ⊙ G while summing the
/// s and b gradients. Then
///   ∂L/∂A = α·Bᵀ(M⊙G),  ∂L/∂B = α·(M⊙G)Aᵀ,  dx = dy·W_q.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); W0, W_q, G (out, in); A (r, in); B (out, r);
/// s, b (out, in / groupSize). Init: A Kaiming-uniform (bound 1/√in, as LoRA), B = 0, so the first
/// W_q is Q(W0); s, b from L4Q_init. A rank of 0 gives a layer that learns only s and b.
public final class L4QLinear: TrainableLinear {
    public let base: Matrix
    public let a: Parameter
    public let b: Parameter
    public let step: Parameter
    public let offset: Parameter
    /// α = alpha / rank, the multiplier of BA.
    public let scale: Float
    public let quantizer: LearnedStepQuantizer
    private let scratch: WeightScratch

    public init(base: DenseLinear, rank: Int, scale: Float, quantizer: LearnedStepQuantizer, name: String,
                scratch: WeightScratch, random: inout SeededRandom) {
        self.base = base.weight
        self.scale = scale
        self.quantizer = quantizer
        self.scratch = scratch
        a = Parameter(name: name + ".lora_A", rows: rank, cols: base.inFeatures)
        b = Parameter(name: name + ".lora_B", rows: base.outFeatures, cols: rank)
        let bound = 1 / Float(base.inFeatures).squareRoot()
        for i in 0..<a.count { a.value.pointer[i] = (2 * random.nextUnitFloat() - 1) * bound }
        let groups = quantizer.groups(cols: base.inFeatures)
        step = Parameter(name: name + ".l4q_step", rows: base.outFeatures, cols: groups)
        offset = Parameter(name: name + ".l4q_offset", rows: base.outFeatures, cols: groups)
        base.weight.storage.withUnsafeBufferPointer {
            quantizer.initialize($0.baseAddress!, rows: base.outFeatures, cols: base.inFeatures,
                                 step: step.value.pointer, offset: offset.value.pointer)
        }
    }

    public var inFeatures: Int { base.cols }
    public var outFeatures: Int { base.rows }
    public var rank: Int { a.rows }
    public var parameters: [Parameter] { (rank > 0 ? [a, b] : []) + [step, offset] }

    /// W0 + α·BA into `out` (out, in): the merged weight, computed the same way (the same row
    /// blocks, always in fp32) by the forward, the backward and the export so all three quantize
    /// the same floats, in a bf16 fine-tune too. (The rank-r update is 1–2 % of a step's products.)
    func merge(into out: UnsafeMutablePointer<Float>) {
        forEachRowBlock { merge(rows: $0, into: out + $0.lowerBound * inFeatures) }
    }

    /// Rows `rows` of W0 + α·BA into `out` (rows.count, in).
    private func merge(rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = inFeatures, first = rows.lowerBound * n
        base.storage.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + first, count: rows.count * n) }
        guard rank > 0 else { return }
        BLAS.sgemm(m: rows.count, n: n, k: rank, alpha: scale, a: b.value.pointer + rows.lowerBound * rank, lda: rank,
                  b: a.value.pointer, ldb: n, beta: 1, c: out, ldc: n)
    }

    /// Runs `body` on consecutive blocks of output rows, alternate blocks on the two cores (OpenBLAS
    /// on one thread each meanwhile). A block holds at most `blockWeights` weights, so it stays in
    /// L2 from the merge through the quantizer: each weight crosses memory once per pass over the
    /// layer instead of once per step of it (copy, rank-r update, quantize), and the elementwise
    /// quantizer, which OpenBLAS cannot parallelize, uses both cores.
    private func forEachRowBlock(_ body: (Range<Int>) -> Void) {
        let m = outFeatures, rows = max(1, Self.blockWeights / inFeatures), blocks = (m + rows - 1) / rows
        SecondCore.shared.splitting {
            SecondCore.shared.run { part in
                for i in stride(from: part, to: blocks, by: 2) { body(i * rows..<min(m, (i + 1) * rows)) }
            }
        }
    }

    static let blockWeights = 1 << 15

    /// Whether the layer's products with `rows` rows run in bf16: W_q is then rounded block by
    /// block while the block is in L2, on both cores, instead of in a separate pass over the whole
    /// matrix on one (the same roundings, so the same numbers), and its fp32 values, made only to
    /// be rounded, stay in each core's staging buffer instead of a layer-sized one whose every line
    /// would be written back to memory.
    private func runsInBF16(rows: Int) -> Bool {
        rows > 1 && BF16.applies(m: rows, n: outFeatures, k: inFeatures)
    }

    /// Where a pass puts the fp32 values of rows `block` (`width` wide) of a layer-sized matrix: in
    /// `matrix` when it is kept, else in part `slot` (0 or 1) of this core's staging buffer.
    private static func destination(_ block: Range<Int>, width: Int, in matrix: UnsafeMutablePointer<Float>?,
                                    slot: Int = 0) -> UnsafeMutablePointer<Float> {
        if let matrix { return matrix + block.lowerBound * width }
        let count = block.count * width
        return ThreadScratch.current.staging.reserve(2 * count) + slot * count
    }

    /// Rows `block` (`width` wide, starting at `values`) rounded into the same rows of `rounded`.
    private static func round(_ block: Range<Int>, width: Int, _ values: UnsafePointer<Float>,
                              into rounded: UnsafeMutablePointer<UInt16>) {
        BF16.round(values, ld: width, rows: block.count, cols: width, into: rounded + block.lowerBound * width, ldOut: width)
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let m = outFeatures, n = inFeatures, gc = quantizer.groups(cols: n), bf16 = runsInBF16(rows: rows)
        let w = bf16 ? nil : scratch.weight.reserve(m * n), rounded = bf16 ? scratch.bf16Weight.reserve(m * n) : nil
        forEachRowBlock { block in
            let wq = Self.destination(block, width: n, in: w), groups = block.lowerBound * gc
            merge(rows: block, into: wq)
            quantizer.fakeQuantize(wq, rows: block.count, cols: n, step: step.value.pointer + groups, offset: offset.value.pointer + groups)
            if let rounded { Self.round(block, width: n, wq, into: rounded) }
        }
        if let rounded {
            Linear.forward(x, bf16: rounded, rows: rows, in: n, out: m, into: y)
        } else {
            Linear.forward(x, weight: w!, rows: rows, in: n, out: m, into: y)
        }
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures, r = rank, gc = quantizer.groups(cols: n), bf16 = runsInBF16(rows: rows)
        let g = scratch.gradient.reserve(m * n)
        // In bf16, dy is rounded once for the two products that read it (G and dx).
        let dyOperand: BF16Operand = bf16 ? .bf16(roundedOutputGradient(dy, rows: rows), ld: m) : .float(dy, ld: m)
        if bf16 {
            BF16.gemm(transA: true, m: m, n: n, k: rows, a: dyOperand, b: .float(x, ld: n), c: g, ldc: n)
        } else {
            BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: g, ldc: n)
        }
        // M⊙G, when the rank-r products read it in bf16, is rounded once in the block pass (not
        // once per product) and its fp32 values stay in the staging buffer too.
        let adapterBF16 = r > 0 && BF16.applies(m: r, n: n, k: m)
        let w = bf16 ? nil : scratch.weight.reserve(m * n), rounded = bf16 ? scratch.bf16Weight.reserve(m * n) : nil
        let maskedRounded = adapterBF16 ? scratch.bf16Gradient.reserve(m * n) : nil
        forEachRowBlock { block in
            let at = block.lowerBound * n, groups = block.lowerBound * gc
            let wq = Self.destination(block, width: n, in: w)
            let masked = Self.destination(block, width: n, in: adapterBF16 ? nil : g, slot: 1)
            merge(rows: block, into: wq)
            quantizer.backward(weight: wq, rows: block.count, cols: n, step: step.value.pointer + groups,
                               offset: offset.value.pointer + groups, gradient: g + at, masked: masked, quantized: wq,
                               dStep: step.gradient.pointer + groups, dOffset: offset.gradient.pointer + groups)
            if let rounded { Self.round(block, width: n, wq, into: rounded) }
            if let maskedRounded { Self.round(block, width: n, masked, into: maskedRounded) }
        }
        if let maskedRounded {
            BF16.gemm(transA: true, m: r, n: n, k: m, alpha: scale, a: .float(b.value.pointer, ld: r), b: .bf16(maskedRounded, ld: n),
                      beta: 1, c: a.gradient.pointer, ldc: n)
            BF16.gemm(transB: true, m: m, n: r, k: n, alpha: scale, a: .bf16(maskedRounded, ld: n), b: .float(a.value.pointer, ld: n),
                      beta: 1, c: b.gradient.pointer, ldc: r)
        } else if r > 0 {
            BLAS.gemm(transA: true, m: r, n: n, k: m, alpha: scale, a: b.value.pointer, lda: r, b: g, ldb: n,
                      beta: 1, c: a.gradient.pointer, ldc: n)
            BLAS.gemm(transB: true, m: m, n: r, k: n, alpha: scale, a: g, lda: n, b: a.value.pointer, ldb: n,
                      beta: 1, c: b.gradient.pointer, ldc: r)
        }
        if let rounded {
            Linear.backwardInput(dyOperand, bf16: rounded, rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
        } else {
            Linear.backwardInput(dy, weight: w!, rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
        }
    }

    /// dy (rows, out) rounded to bf16 into the shared scratch, halves on the two cores.
    private func roundedOutputGradient(_ dy: UnsafePointer<Float>, rows: Int) -> UnsafeMutablePointer<UInt16> {
        let m = outFeatures, out = scratch.bf16OutputGradient.reserve(rows * m)
        SecondCore.shared.halves(rows: rows, width: m) { r in
            BF16.round(dy + r.lowerBound * m, ld: m, rows: r.count, cols: m, into: out + r.lowerBound * m, ldOut: m)
        }
        return out
    }

    /// E_quant and E_clip of the current merged weight (`LearnedStepQuantizer.errors`).
    func quantizationErrors() -> (quantization: Double, clipping: Double) {
        let w = scratch.weight.reserve(outFeatures * inFeatures)
        merge(into: w)
        return quantizer.errors(w, rows: outFeatures, cols: inFeatures, step: step.value.pointer, offset: offset.value.pointer)
    }

    /// The deployable form: codes of Q(W0 + α·BA) and (s, z) per group, laid out by `layout`.
    func quantizedMatrix(_ layout: LayerQuantization) -> QuantizedMatrix {
        var q = layout.emptyMatrix(rows: outFeatures, cols: inFeatures)
        let w = scratch.weight.reserve(outFeatures * inFeatures)
        merge(into: w)
        quantizer.quantize(w, step: step.value.pointer, offset: offset.value.pointer, into: &q)
        return q
    }
}
