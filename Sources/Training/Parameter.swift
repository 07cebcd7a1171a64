import Tensor

/// A named tensor of the model that training knows about. Whoever adds it (an adapter, a
/// quantizer's scales, a set of weak columns) owns it and reads `value` in its own forward; the
/// engine only sees the list. Frozen parameters are declared too, so a method can list everything
/// it added, but they never get a gradient buffer or optimizer state.
public final class Parameter {
    /// Unique within a model, e.g. "blocks.3.q.lora_A"; checkpoints key tensors by it.
    public let name: String
    public let rows: Int
    public let cols: Int
    public let isTrainable: Bool
    /// rows × cols floats, row-major.
    public let value: FloatBuffer
    /// Same shape as `value`, accumulated by backward passes and cleared after each optimizer step
    /// (empty for frozen parameters).
    public let gradient: FloatBuffer

    public init(name: String, rows: Int, cols: Int, trainable: Bool = true) {
        self.name = name
        self.rows = rows
        self.cols = cols
        isTrainable = trainable
        value = FloatBuffer(capacity: rows * cols)
        gradient = FloatBuffer(capacity: trainable ? rows * cols : 0)
    }

    public var count: Int { rows * cols }

    /// The value as a matrix copy (for merging and tests).
    public var matrix: Matrix { Matrix(rows: rows, cols: cols, storage: value.array(count)) }

    /// Overwrites the value from `m`, which must have this parameter's shape.
    public func assign(_ m: Matrix) {
        precondition(m.rows == rows && m.cols == cols, "\(name): assigning \(m.rows)×\(m.cols) to \(rows)×\(cols)")
        m.storage.withUnsafeBufferPointer { value.pointer.update(from: $0.baseAddress!, count: count) }
    }

    public func zeroGradient() {
        if isTrainable { gradient.pointer.update(repeating: 0, count: count) }
    }
}

/// Trainable parameters updated by one optimizer, with a multiplier on the scheduled learning rate.
/// A method may put adapters under AdamW and, say, ternary factors under a sign-SGD.
public struct ParameterGroup {
    public var name: String
    public var parameters: [Parameter]
    public var optimizer: any Optimizer
    public var learningRateScale: Float

    public init(name: String, parameters: [Parameter], optimizer: any Optimizer, learningRateScale: Float = 1) {
        self.name = name
        self.parameters = parameters.filter(\.isTrainable)
        self.optimizer = optimizer
        self.learningRateScale = learningRateScale
    }
}

extension Array where Element == ParameterGroup {
    /// The groups with `weightDecay` in every AdamW group; a group under another rule (LoTA-QAF's
    /// ternary sign-SGD) keeps it, since decay means nothing there.
    public func withAdamWWeightDecay(_ weightDecay: Float) -> [ParameterGroup] {
        map { g in
            var g = g
            if g.optimizer is AdamW { g.optimizer = AdamW(weightDecay: weightDecay) }
            return g
        }
    }
}
