import Models
import Tensor

/// A packed low-bit projection: the fused dequantizing GEMV for one row (decode), on float or int8
/// activations (`decodeActivations`), and for each row of a batched decode step of up to
/// `decodeRows` rows; dequantize-then-sgemm for more (prefill, scoring), and the input gradient
/// for training through it as a frozen base.
/// Reentrant: every product works in temporaries of its own call.
public final class QuantizedLinear: InputGradientLinear, ReentrantLinear, DecodeActivationSelectable {
    public let weights: PackedWeights
    /// Precision of x in single-row products; `.float32` unless set (`Generator` sets `.int8` for
    /// its decode steps through `Llama.withDecodeActivations`).
    public var decodeActivations: ActivationPrecision
    public var decodeRows = 1
    public var inFeatures: Int { weights.cols }
    public var outFeatures: Int { weights.rows }

    public init(_ weights: PackedWeights, decodeActivations: ActivationPrecision = .float32) {
        self.weights = weights
        self.decodeActivations = decodeActivations
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        if rows <= max(1, decodeRows) {
            eachRow(x, rows: rows, into: y) { weights.gemv($0, $1, activations: decodeActivations) }
        } else {
            weights.gemm(x, ldx: inFeatures, n: rows, y, ldy: outFeatures)
        }
    }

    public func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        weights.gemmTransposed(dy, lddy: outFeatures, n: rows, dx, lddx: inFeatures, accumulate: accumulate)
    }
}

/// An OWQ/QEFT projection: packed low-bit columns plus the float weak block. With the weak columns
/// at the tail (QEFT after reordering) both parts read contiguous slices of x; scattered weak
/// columns (OWQ, and QEFT's o_proj) gather x first. `decodeActivations` applies to the low-bit part
/// of single-row products (and of each row of a decode step up to `decodeRows`); the weak block
/// always takes float x.
public final class MixedPrecisionLinear: ReentrantLinear, DecodeActivationSelectable {
    public let weights: MixedPrecisionWeights
    public var decodeActivations: ActivationPrecision = .float32
    public var decodeRows = 1
    public var inFeatures: Int { weights.cols }
    public var outFeatures: Int { weights.rows }

    public init(_ weights: MixedPrecisionWeights) { self.weights = weights }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        if rows <= max(1, decodeRows) {
            eachRow(x, rows: rows, into: y) { weights.gemv($0, $1, activations: decodeActivations) }
        } else {
            weights.gemm(x, ldx: inFeatures, n: rows, y, ldy: outFeatures)
        }
    }
}

/// One quantized projection as stored: plain packed codes, or the mixed layout with weak columns.
public enum QuantizedLayer: Equatable, Sendable {
    case packed(PackedWeights)
    case mixed(MixedPrecisionWeights)

    public var rows: Int {
        switch self {
        case .packed(let p): return p.rows
        case .mixed(let m): return m.rows
        }
    }

    public var cols: Int {
        switch self {
        case .packed(let p): return p.cols
        case .mixed(let m): return m.cols
        }
    }

    /// The low-bit part.
    public var lowBit: PackedWeights {
        switch self {
        case .packed(let p): return p
        case .mixed(let m): return m.lowBit
        }
    }

    /// Weak (float) input columns, ascending; empty for a plain packed layer.
    public var weakIndices: [Int] {
        if case .mixed(let m) = self { return m.weakIndices }
        return []
    }

    /// The operator the forward pass runs.
    public func linear() -> any LinearOperator {
        switch self {
        case .packed(let p): return QuantizedLinear(p)
        case .mixed(let m): return MixedPrecisionLinear(m)
        }
    }

    /// The effective (rows, cols) float weight.
    public func dequantized() -> Matrix {
        switch self {
        case .packed(let p): return p.dequantized()
        case .mixed(let m): return m.dequantized()
        }
    }

    /// Deployment storage in bits, counted as the papers do: `bits` per low-bit code, an fp16
    /// scale and an fp16 zero per (row, group), fp16 weak weights (qeft.md §1.6.7).
    public var deployedBits: Int {
        let p = lowBit
        return p.rows * p.cols * p.bits + p.rows * p.groupCount * 32 + p.rows * weakIndices.count * 16
    }
}
