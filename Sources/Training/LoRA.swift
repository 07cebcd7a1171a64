import Foundation
import Models
import Tensor

/// Low-rank adapter settings: y = x Wᵀ + (α/r) · dropout(x) Aᵀ Bᵀ on the `targets` projections.
public struct LoRAConfig: Codable, Equatable, Sendable {
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    public var targets: [Projection]

    public init(rank: Int, alpha: Float, dropout: Float = 0, targets: [Projection] = Projection.allCases) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
    }

    public var scale: Float { alpha / Float(rank) }
}

/// A LoRA adapter around any base layer that can pass gradients back.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); A, dA (r, in); B, dB (out, r); xa (rows, r).
/// Forward saves for backward: xa = dropout(x) Aᵀ and the dropout generator's state (the mask is
/// replayed, not stored). Init as in the LoRA paper: A Kaiming-uniform (bound 1/√in), B = 0, so
/// the adapted layer starts equal to its base.
public final class LoRALinear: TrainableLinear {
    public let base: any InputGradientLinear
    public let config: LoRAConfig
    public let a: Parameter
    public let b: Parameter
    private let xa = FloatBuffer(), dxa = FloatBuffer(), dropped = FloatBuffer()
    private var savedRandom = SeededRandom(seed: 0)

    public init(base: any InputGradientLinear, config: LoRAConfig, name: String, random: inout SeededRandom) {
        self.base = base
        self.config = config
        a = Parameter(name: name + ".lora_A", rows: config.rank, cols: base.inFeatures)
        b = Parameter(name: name + ".lora_B", rows: base.outFeatures, cols: config.rank)
        let bound = 1 / Float(base.inFeatures).squareRoot()
        for i in 0..<a.count { a.value.pointer[i] = (2 * random.nextUnitFloat() - 1) * bound }
    }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }
    public var parameters: [Parameter] { [a, b] }
    private var r: Int { config.rank }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        base.apply(x, rows: rows, into: y)
        addAdapter(x, rows: rows, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        savedRandom = random
        base.apply(x, rows: rows, into: y)
        addAdapter(adapterInput(x, rows: rows), rows: rows, into: y)
    }

    /// xa = x Aᵀ (kept in `xa`), then y += s · xa Bᵀ.
    private func addAdapter(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let xa = self.xa.reserve(rows * r)
        BLAS.gemm(transB: true, m: rows, n: r, k: inFeatures, a: x, lda: inFeatures, b: a.value.pointer, ldb: inFeatures,
                  c: xa, ldc: r)
        BLAS.gemm(transB: true, m: rows, n: outFeatures, k: r, alpha: config.scale, a: xa, lda: r,
                  b: b.value.pointer, ldb: r, beta: 1, c: y, ldc: outFeatures)
    }

    /// x itself without dropout; otherwise x ⊙ mask / (1 − p) in a scratch buffer, the mask drawn
    /// from `savedRandom` so backward can draw it again.
    private func adapterInput(_ x: UnsafePointer<Float>, rows: Int) -> UnsafePointer<Float> {
        guard config.dropout > 0 else { return x }
        let out = dropped.reserve(rows * inFeatures)
        out.update(from: x, count: rows * inFeatures)
        applyDropoutMask(out, count: rows * inFeatures)
        return UnsafePointer(out)
    }

    private func applyDropoutMask(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var rng = savedRandom
        let p = config.dropout, keep = 1 / (1 - p)
        for i in 0..<count { v[i] = rng.nextUnitFloat() < p ? 0 : v[i] * keep }
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let s = config.scale, n = inFeatures, m = outFeatures
        let dxa = self.dxa.reserve(rows * r)
        // dB += s · dyᵀ xa;  dxa = s · dy B;  dA += dxaᵀ · dropout(x).
        BLAS.gemm(transA: true, m: m, n: r, k: rows, alpha: s, a: dy, lda: m, b: xa.pointer, ldb: r,
                  beta: 1, c: b.gradient.pointer, ldc: r)
        BLAS.gemm(m: rows, n: r, k: m, alpha: s, a: dy, lda: m, b: b.value.pointer, ldb: r, c: dxa, ldc: r)
        BLAS.gemm(transA: true, m: r, n: n, k: rows, a: dxa, lda: r, b: adapterInput(x, rows: rows), ldb: n,
                  beta: 1, c: a.gradient.pointer, ldc: n)
        base.applyTransposed(dy, rows: rows, into: dx, accumulate: accumulate)
        if config.dropout > 0 {
            let t = dropped.reserve(rows * n)
            BLAS.gemm(m: rows, n: n, k: r, a: dxa, lda: r, b: a.value.pointer, ldb: n, c: t, ldc: n)
            applyDropoutMask(t, count: rows * n)
            SIMDMath.add(t, into: dx, rows * n)
        } else {
            BLAS.gemm(m: rows, n: n, k: r, a: dxa, lda: r, b: a.value.pointer, ldb: n, beta: 1, c: dx, ldc: n)
        }
    }

    /// ΔW = s · B A (out, in): what merging adds to the base weight.
    public func delta() -> Matrix {
        var d = Matrix(zeros: outFeatures, inFeatures)
        d.storage.withUnsafeMutableBufferPointer { p in
            BLAS.gemm(m: outFeatures, n: inFeatures, k: r, alpha: config.scale, a: b.value.pointer, lda: r,
                      b: a.value.pointer, ldb: inFeatures, c: p.baseAddress!, ldc: inFeatures)
        }
        return d
    }

    /// W + s · B A as a dense layer, for a base that is itself dense (quantized bases merge through
    /// their own method's export).
    public func merged() throws -> DenseLinear {
        guard let dense = base as? DenseLinear else { throw TrainingError.cannotMerge(base: "\(type(of: base))") }
        var w = dense.weight
        let d = delta()
        for i in 0..<w.count { w.storage[i] += d.storage[i] }
        return DenseLinear(w)
    }
}
