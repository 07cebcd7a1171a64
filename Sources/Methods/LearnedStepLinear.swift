import Models
import Quantization
import Tensor
import Training

/// The (out × in) temporaries the weight-quantizing layers of one model share: one buffer for a
/// weight (merged, or fake-quantized) and one for ∂L/∂W_q. Layers run one after another, so at most
/// one of each exists at a time whatever the depth — this is how L4Q's backward avoids holding a
/// weight-sized gradient per layer. Not thread-safe, like the model that owns it.
public final class WeightScratch {
    public let weight = FloatBuffer()
    public let gradient = FloatBuffer()
    /// `weight` rounded to bf16, for layers that round it in the pass that computes it.
    public let bf16Weight = ScratchBuffer<UInt16>()
    /// M ⊙ G rounded to bf16 in the pass that computes it (its fp32 values then never reach
    /// `gradient`).
    public let bf16Gradient = ScratchBuffer<UInt16>()
    /// A layer's output gradient rounded to bf16 once for the products that read it.
    public let bf16OutputGradient = ScratchBuffer<UInt16>()

    public init() {}
}

/// W_q = Q_{s,b}(W) with learned per-group step s and offset b (`LearnedStepQuantizer`), run as
/// plain autograd runs the QAT baselines (QAT-LoRA's frozen base, full QAT's trained weights):
/// the forward computes W_q and keeps it for the input gradient (the (out × in) tensor autograd
/// saves for the matmul, one per layer); the backward forms ∂L/∂W_q = dyᵀx in the shared scratch and
/// sends it through the LSQ+ rules to s and b and, when W trains, into W's own (out × in) gradient.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); W, W_q (out, in); s, b (out, in / groupSize).
public final class LearnedStepLinear: TrainableLinear, InputGradientLinear {
    /// The weight being quantized: frozen (QAT-LoRA's W0) or a trained parameter (full QAT).
    public enum Weight {
        case frozen(Matrix)
        case trainable(Parameter)
    }

    public let weight: Weight
    public let step: Parameter
    public let offset: Parameter
    public let quantizer: LearnedStepQuantizer
    public let inFeatures: Int
    public let outFeatures: Int
    private let quantized = FloatBuffer()
    private let scratch: WeightScratch

    /// Wraps `base`, copying its weight into a trainable parameter when `trainable`; s and b start
    /// at L4Q_init.
    public init(base: DenseLinear, trainable: Bool, quantizer: LearnedStepQuantizer, name: String, scratch: WeightScratch) {
        inFeatures = base.inFeatures
        outFeatures = base.outFeatures
        self.quantizer = quantizer
        self.scratch = scratch
        let groups = quantizer.groups(cols: inFeatures)
        step = Parameter(name: name + ".lsq_step", rows: outFeatures, cols: groups)
        offset = Parameter(name: name + ".lsq_offset", rows: outFeatures, cols: groups)
        if trainable {
            let w = Parameter(name: name + ".weight", rows: outFeatures, cols: inFeatures)
            w.assign(base.weight)
            weight = .trainable(w)
        } else {
            weight = .frozen(base.weight)
        }
        withWeight { quantizer.initialize($0, rows: outFeatures, cols: inFeatures, step: step.value.pointer, offset: offset.value.pointer) }
    }

    /// W as a parameter when it trains.
    public var trainedWeight: Parameter? {
        if case .trainable(let w) = weight { return w }
        return nil
    }

    public var parameters: [Parameter] { (trainedWeight.map { [$0] } ?? []) + [step, offset] }

    private func withWeight<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        switch weight {
        case .frozen(let m): return try m.storage.withUnsafeBufferPointer { try body($0.baseAddress!) }
        case .trainable(let p): return try body(p.value.pointer)
        }
    }

    /// Computes W_q into the layer's own buffer and returns it.
    private func quantizeWeight() -> UnsafeMutablePointer<Float> {
        let n = outFeatures * inFeatures, wq = quantized.reserve(n)
        withWeight { wq.update(from: $0, count: n) }
        quantizer.fakeQuantize(wq, rows: outFeatures, cols: inFeatures, step: step.value.pointer, offset: offset.value.pointer)
        return wq
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Linear.forward(x, weight: quantizeWeight(), rows: rows, in: inFeatures, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    /// dx = dy·W_q with the W_q saved by the last forward.
    public func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        Linear.backwardInput(dy, weight: quantized.pointer, rows: rows, in: inFeatures, out: outFeatures,
                             into: dx, accumulate: accumulate)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        applyTransposed(dy, rows: rows, into: dx, accumulate: accumulate)
        weightBackward(dy, input: x, rows: rows)
    }

    /// The parameter half of the backward: ∂L/∂W_q = dyᵀx (scratch) → s, b and (trained W) W gradients.
    public func weightBackward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int) {
        let n = inFeatures, m = outFeatures, g = scratch.gradient.reserve(m * n)
        BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: g, ldc: n)
        let trained = trainedWeight
        withWeight {
            quantizer.backward(weight: $0, rows: m, cols: n, step: step.value.pointer, offset: offset.value.pointer,
                               gradient: g, masked: trained != nil ? g : nil, quantized: nil,
                               dStep: step.gradient.pointer, dOffset: offset.gradient.pointer)
        }
        if let trained { SIMDMath.add(g, into: trained.gradient.pointer, m * n) }
    }

    /// The integer form: codes and (s, z) per group, laid out by `layout` for packing.
    func quantizedMatrix(_ layout: LayerQuantization) -> QuantizedMatrix {
        var q = layout.emptyMatrix(rows: outFeatures, cols: inFeatures)
        withWeight { quantizer.quantize($0, step: step.value.pointer, offset: offset.value.pointer, into: &q) }
        return q
    }
}
