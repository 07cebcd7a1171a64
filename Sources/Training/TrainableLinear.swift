import Models
import Tensor

/// A linear layer as training sees it. It is also a `LinearOperator`, whose `apply` is the
/// inference forward (no dropout, nothing saved), so a trained layer drops straight into `Llama`.
///
/// The caller keeps the layer's input x alive between `forward` and `backward` and passes it back
/// (q, k and v share one input, so one copy serves three layers); the layer saves only what it
/// needs beyond x, and must not hold an (out × in) gradient for weights it does not train.
public protocol TrainableLinear: LinearOperator {
    /// Every parameter this layer added, frozen or trainable.
    var parameters: [Parameter] { get }

    /// Training forward: y (rows, out) = f(x (rows, in)), overwriting y. `random` drives any
    /// stochastic part (dropout); the layer must be able to replay it in `backward`.
    func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom)

    /// Given dy (rows, out) and the x passed to the matching `forward`: writes ∂L/∂x into dx (or adds
    /// it when `accumulate`) and adds this layer's parameter gradients into their `gradient` buffers.
    func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool)
}

/// A frozen base layer: training only sends the gradient through it (dx = dy·W), no weight gradient.
public final class FrozenLinear: TrainableLinear {
    public let base: any InputGradientLinear

    public init(_ base: any InputGradientLinear) { self.base = base }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }
    public var parameters: [Parameter] { [] }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        base.apply(x, rows: rows, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        base.apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        base.applyTransposed(dy, rows: rows, into: dx, accumulate: accumulate)
    }
}

/// Where a linear layer sits in the model: which block and which projection.
public struct LinearSite: Hashable, Sendable, CustomStringConvertible {
    public var layer: Int
    public var projection: Projection

    public init(layer: Int, projection: Projection) {
        self.layer = layer
        self.projection = projection
    }

    public var description: String { "blocks.\(layer).\(projection.rawValue)" }
}
