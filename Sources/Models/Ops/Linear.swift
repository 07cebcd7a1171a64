import Synchronization
import Tensor

/// y = x Wᵀ for a weight W of shape (out, in). The forward pass sees every projection through this
/// protocol so quantized kernels and adapter-wrapped layers slot in without touching the model.
public protocol LinearOperator: AnyObject {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    /// y (rows, out) = x (rows, in) · Wᵀ, overwriting y.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>)
}

/// An operator whose `apply` keeps no state between calls (no scratch buffers), so forwards on
/// several threads may share it (`Llama.replica`).
public protocol ReentrantLinear: LinearOperator {}

/// A linear layer that can send gradients back to its input: what a frozen base layer must offer
/// for training, since it needs no weight gradient of its own.
public protocol InputGradientLinear: LinearOperator {
    /// dx (rows, in) = dy (rows, out) · W, overwriting dx, or adding to it when `accumulate`.
    func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool)
}

/// The dense linear op, forward and backward.
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); W, dW (out, in).
/// Forward saves for backward: x (for dW only; dx needs W alone).
public enum Linear {
    /// W already in bf16 (row-major, leading dimension `in`), handed to `body` on demand: a frozen
    /// weight's cached copy.
    public typealias RoundedWeight = (_ body: (UnsafePointer<UInt16>) -> Void) -> Void

    /// y = x Wᵀ. `rounded`, when given, is used instead of rerounding W when the product runs in bf16.
    public static func forward(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, rounded: RoundedWeight? = nil,
        rows: Int, in n: Int, out m: Int, into y: UnsafeMutablePointer<Float>
    ) {
        if rows == 1 {
            // A one-row sgemm is several times slower than sgemv on OpenBLAS.
            BLAS.gemv(m: m, n: n, a: w, lda: n, x: x, y: y)
        } else if let rounded, BF16.applies(m: rows, n: m, k: n) {
            rounded { forward(x, bf16: $0, rows: rows, in: n, out: m, into: y) }
        } else {
            BLAS.gemm(transB: true, m: rows, n: m, k: n, a: x, lda: n, b: w, ldb: n, c: y, ldc: m)
        }
    }

    /// dx = dy · W (or dx += when `accumulate`); `rounded` as in `forward`.
    public static func backwardInput(
        _ dy: UnsafePointer<Float>, weight w: UnsafePointer<Float>, rounded: RoundedWeight? = nil,
        rows: Int, in n: Int, out m: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        if let rounded, BF16.applies(m: rows, n: n, k: m) {
            return rounded { backwardInput(.float(dy, ld: m), bf16: $0, rows: rows, in: n, out: m, into: dx, accumulate: accumulate) }
        }
        BLAS.gemm(m: rows, n: n, k: m, a: dy, lda: m, b: w, ldb: n, beta: accumulate ? 1 : 0, c: dx, ldc: n)
    }

    /// y = x Wᵀ with W held only in bf16 (`forward`'s bf16 product, for a layer that decodes its
    /// weight straight to bf16 when `BF16.applies`).
    public static func forward(_ x: UnsafePointer<Float>, bf16 w: UnsafePointer<UInt16>, rows: Int, in n: Int, out m: Int,
                               into y: UnsafeMutablePointer<Float>) {
        BF16.gemm(transB: true, m: rows, n: m, k: n, a: .float(x, ld: n), b: .bf16(w, ld: n), c: y, ldc: m)
    }

    /// dx = dy · W (or dx +=) with W held only in bf16: `backwardInput`'s bf16 product. dy (rows,
    /// out) may come already rounded, when another product reads it too.
    public static func backwardInput(_ dy: BF16Operand, bf16 w: UnsafePointer<UInt16>, rows: Int, in n: Int, out m: Int,
                                     into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        BF16.gemm(m: rows, n: n, k: m, a: dy, b: .bf16(w, ld: n), beta: accumulate ? 1 : 0, c: dx, ldc: n)
    }

    /// dW += dyᵀ · x, summed over the rows. Only trainable weights call this: a frozen weight never
    /// holds an (out, in) gradient.
    public static func backwardWeight(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int, in n: Int, out m: Int,
        into dw: UnsafeMutablePointer<Float>
    ) {
        BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, beta: 1, c: dw, ldc: n)
    }
}

/// A float32 weight applied with cblas, or in bf16 from a copy rounded once on first use (and
/// dropped whenever `weight` is assigned or mutated), so a frozen layer is not rerounded per product.
public final class DenseLinear: InputGradientLinear, ReentrantLinear {
    public var weight: Matrix { didSet { bf16.withLock { $0 = nil } } }
    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }
    /// The bf16 copy, built under the lock because replicas share the layer across threads.
    private let bf16 = Mutex<BF16Matrix?>(nil)

    public init(_ weight: Matrix) { self.weight = weight }

    /// The weight in bf16, rounded on the first call after a change.
    public func roundedWeight() -> BF16Matrix {
        bf16.withLock { cached in
            if let cached { return cached }
            let w = BF16Matrix(weight)
            cached = w
            return w
        }
    }

    private func rounded(_ body: (UnsafePointer<UInt16>) -> Void) {
        roundedWeight().storage.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        weight.storage.withUnsafeBufferPointer { w in
            Linear.forward(x, weight: w.baseAddress!, rounded: rounded, rows: rows, in: inFeatures,
                           out: outFeatures, into: y)
        }
    }

    public func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        weight.storage.withUnsafeBufferPointer { w in
            Linear.backwardInput(dy, weight: w.baseAddress!, rounded: rounded, rows: rows, in: inFeatures,
                                 out: outFeatures, into: dx, accumulate: accumulate)
        }
    }
}
