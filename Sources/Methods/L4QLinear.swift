import Models
import Quantization
import Tensor
import Training

/// One L4Q layer (eqs. 7–14): y = x W_qᵀ with W_q = Q_{s,b}(W0 + α·BA), α = alpha / rank, s and b
/// learned per group (`LearnedStepQuantizer`). There is no separate adapter branch: the adapter
/// lives inside the quantized weight, so the deployed layer is integer codes alone.
///
/// Memory-lean by hand (§1.4): nothing weight-sized is kept between forward and backward. The
/// forward merges and fake-quantizes into the model's shared scratch; the backward recomputes the
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
        forEachRowBlock { merge(rows: $0, into: out) }
    }

    /// Rows `rows` of W0 + α·BA into the same rows of `out` (out, in).
    private func merge(rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = inFeatures, first = rows.lowerBound * n
        base.storage.withUnsafeBufferPointer { out.advanced(by: first).update(from: $0.baseAddress! + first, count: rows.count * n) }
        guard rank > 0 else { return }
        BLAS.sgemm(m: rows.count, n: n, k: rank, alpha: scale, a: b.value.pointer + rows.lowerBound * rank, lda: rank,
                  b: a.value.pointer, ldb: n, beta: 1, c: out + first, ldc: n)
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

    /// The bf16 scratch when a product of `rows` rows with W_q (`transposed`: dy·W_q) runs in bf16:
    /// W_q is then rounded block by block while the block is in L2, on both cores, instead of in
    /// a separate pass over the whole matrix on one (the same roundings, so the same numbers).
    private func bf16Scratch(rows: Int, transposed: Bool) -> UnsafeMutablePointer<UInt16>? {
        let (m, n) = (outFeatures, inFeatures)
        guard rows > 1, transposed ? BF16.applies(m: rows, n: n, k: m) : BF16.applies(m: rows, n: m, k: n) else { return nil }
        return scratch.bf16Weight.reserve(m * n)
    }

    /// The rounded W_q, once every block is in, as `Linear`'s products take it.
    private static func lending(_ rounded: UnsafeMutablePointer<UInt16>?) -> Linear.RoundedWeight? {
        rounded.map { r in { $0(r) } }
    }

    /// Rows `block` of W_q (`w`) rounded into the same rows of `rounded`, when given.
    private func round(_ block: Range<Int>, _ w: UnsafePointer<Float>, into rounded: UnsafeMutablePointer<UInt16>?) {
        guard let rounded else { return }
        let n = inFeatures, at = block.lowerBound * n
        BF16.round(w + at, ld: n, rows: block.count, cols: n, into: rounded + at, ldOut: n)
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let n = inFeatures, gc = quantizer.groups(cols: n), w = scratch.weight.reserve(outFeatures * n)
        let rounded = bf16Scratch(rows: rows, transposed: false)
        forEachRowBlock { block in
            merge(rows: block, into: w)
            quantizer.fakeQuantize(w + block.lowerBound * n, rows: block.count, cols: n,
                                   step: step.value.pointer + block.lowerBound * gc, offset: offset.value.pointer + block.lowerBound * gc)
            round(block, w, into: rounded)
        }
        Linear.forward(x, weight: w, rounded: Self.lending(rounded), rows: rows, in: n, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures, r = rank
        let w = scratch.weight.reserve(m * n), g = scratch.gradient.reserve(m * n)
        BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: g, ldc: n)
        let gc = quantizer.groups(cols: n), rounded = bf16Scratch(rows: rows, transposed: true)
        forEachRowBlock { block in
            let at = block.lowerBound * n, groups = block.lowerBound * gc
            merge(rows: block, into: w)
            quantizer.backward(weight: w + at, rows: block.count, cols: n, step: step.value.pointer + groups,
                               offset: offset.value.pointer + groups, gradient: g + at, masking: true, quantized: w + at,
                               dStep: step.gradient.pointer + groups, dOffset: offset.gradient.pointer + groups)
            round(block, w, into: rounded)
        }
        if r > 0 {
            BLAS.gemm(transA: true, m: r, n: n, k: m, alpha: scale, a: b.value.pointer, lda: r, b: g, ldb: n,
                      beta: 1, c: a.gradient.pointer, ldc: n)
            BLAS.gemm(transB: true, m: m, n: r, k: n, alpha: scale, a: g, lda: n, b: a.value.pointer, ldb: n,
                      beta: 1, c: b.gradient.pointer, ldc: r)
        }
        Linear.backwardInput(dy, weight: w, rounded: Self.lending(rounded), rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
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
