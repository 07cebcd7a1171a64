import Models
import Quantization
import Tensor
import Training

/// A quantization-aware fine-tuning method, or a post-training baseline, as one value: how it
/// prepares the base (quantizer, calibration), what it makes trainable (through the wrapped linear
/// layers of a `TrainableLlama`), which optimizer each parameter group uses, and how it exports the
/// deployable model. Adding a method = one file conforming to this protocol + one line in
/// `MethodRegistry`.
public protocol FineTuningMethod: AnyObject {
    /// Registry name, e.g. "l4q".
    static var name: String { get }
    /// Bumped whenever the method's results would change; part of every cache key.
    static var version: String { get }
    /// True for a post-training method, which trains nothing (`parameterGroups` is empty).
    static var isPostTraining: Bool { get }
    /// Validates `options`, throwing `MethodError.invalidOption` naming the offending option.
    init(options: MethodOptions) throws

    /// Quantizes/prepares the base from `context` and returns the model to train, each projection
    /// wrapped as the method needs (frozen, adapted, with learned scales, ...).
    func prepare(_ context: MethodContext) throws -> TrainableLlama
    /// Trainable parameters with their optimizers; empty for post-training-only methods.
    func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup]
    /// The deployable model after training (merged where the method can merge).
    func export(_ model: TrainableLlama) throws -> ExportedModel
}

extension FineTuningMethod {
    public static var isPostTraining: Bool { false }
}

/// What a method is given to prepare its base.
public struct MethodContext {
    /// The floating-point model (for SmolLM2, the dequantized Q4_1 checkpoint).
    public var weights: LlamaWeights
    /// Calibration token windows (drawn from the C4 sample, never from an evaluation set); methods
    /// that need activations (GPTQ, OWQ/QEFT, L4Q's init) run them through the model.
    public var calibration: [[Int]]
    public var seed: UInt64
    /// Whole-model quantizations shared between runs (a pipeline's quantize stage hands its result
    /// to the fine-tuning stages built on it); nil: every method quantizes for itself.
    public var quantizations: QuantizationMemo?
    /// Receives (blocks done, blocks) while a whole-model quantization runs.
    public var progress: (Int, Int) -> Void

    public init(weights: LlamaWeights, calibration: [[Int]] = [], seed: UInt64 = 0, quantizations: QuantizationMemo? = nil,
                progress: @escaping (Int, Int) -> Void = { _, _ in }) {
        self.weights = weights
        self.calibration = calibration
        self.seed = seed
        self.quantizations = quantizations
        self.progress = progress
    }
}

/// Whole-model quantizations by their options: `quantizeModel` returns a held model whose options
/// are the ones asked for instead of recomputing it, and keeps what it computes. The models must
/// come from the same float weights and calibration windows as the context they serve (the
/// pipeline guarantees it: both are in the key of the stage that made them).
public final class QuantizationMemo {
    public private(set) var models: [QuantizedModel]
    /// How many requests a held model answered.
    public private(set) var hits = 0

    public init(_ models: [QuantizedModel] = []) { self.models = models }

    /// The held model quantized with `options`, if any (counted as a hit).
    func held(_ options: ModelQuantizationOptions) -> QuantizedModel? {
        guard let m = models.first(where: { $0.options == options }) else { return nil }
        hits += 1
        return m
    }

    func model(_ options: ModelQuantizationOptions, compute: () throws -> QuantizedModel) rethrows -> QuantizedModel {
        if let m = held(options) { return m }
        let m = try compute()
        models.append(m)
        return m
    }
}

/// How the deployed model computes: fully integer weights ("4" in the papers' tables) or integer
/// weights plus a floating-point path such as an unmerged adapter or fp weak columns ("4&16").
public enum DeployedPrecision: Equatable, Sendable, CustomStringConvertible {
    case float
    case integer(bits: Int)
    case mixed(bits: Int)

    public var description: String {
        switch self {
        case .float: return "16"
        case .integer(let b): return "\(b)"
        case .mixed(let b): return "\(b)&16"
        }
    }
}

/// The model a method hands to evaluation.
public struct ExportedModel {
    public var model: Llama
    public var precision: DeployedPrecision
    /// Average stored bits per linear-layer weight, scales and fp parts included.
    public var bitsPerWeight: Double
    /// Largest |logit| difference between the exported model and the training-form model on a probe
    /// batch (0 for a bit-exact merge); nil when the method does not merge.
    public var mergeDifference: Float?
    /// Method-specific numbers about the export, by name (e.g. LoTA-QAF's "codesChangedFraction").
    public var metrics: [String: Double] = [:]

    public init(model: Llama, precision: DeployedPrecision, bitsPerWeight: Double, mergeDifference: Float? = nil) {
        self.model = model
        self.precision = precision
        self.bitsPerWeight = bitsPerWeight
        self.mergeDifference = mergeDifference
    }
}

/// Everything a method can be configured with. Each method reads what it needs and validates it.
public struct MethodOptions: Codable, Equatable, Sendable {
    public var bits: Int
    public var groupSize: Int
    /// Adapter rank (LoRA family, L4Q, LoTA-QAF).
    public var rank: Int
    /// Adapter scale numerator: the update is (alpha / rank)·BA.
    public var alpha: Float
    public var dropout: Float
    public var targets: [Projection]
    /// QEFT/OWQ weak input columns per layer.
    public var weakColumns: Int
    /// Method-specific numbers (e.g. LoTA-QAF's threshold ω), named by the method's documentation.
    public var extra: [String: Double]

    public init(bits: Int = 4, groupSize: Int = 64, rank: Int = 16, alpha: Float = 32, dropout: Float = 0,
                targets: [Projection] = Projection.allCases, weakColumns: Int = 16, extra: [String: Double] = [:]) {
        self.bits = bits
        self.groupSize = groupSize
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.weakColumns = weakColumns
        self.extra = extra
    }

    /// Checks the bit width: the one range every quantizing method, the packed formats and the
    /// pipeline accept (`BitPacking.supportedBits`).
    public static func validateBits(_ bits: Int) throws {
        guard BitPacking.supportedBits.contains(bits) else {
            throw MethodError.invalidOption(option: "bits", value: "\(bits)",
                                            reason: "must be \(BitPacking.supportedBits.lowerBound)...\(BitPacking.supportedBits.upperBound)")
        }
    }

    /// Checks the options shared by quantizing methods against the model shape.
    public func validateQuantization(for config: LlamaConfig) throws {
        try Self.validateBits(bits)
        let widths = config.projectionInputWidths
        for width in widths where groupSize <= 0 || width % groupSize != 0 {
            throw MethodError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                            reason: "does not divide the input width \(width) (the model's are \(widths.map(String.init).joined(separator: ", ")))")
        }
    }

    /// Checks the adapter options.
    public func validateAdapter() throws {
        guard rank > 0 else { throw MethodError.invalidOption(option: "rank", value: "\(rank)", reason: "must be positive") }
        guard alpha > 0 else { throw MethodError.invalidOption(option: "alpha", value: "\(alpha)", reason: "must be positive") }
        guard (0..<1).contains(dropout) else { throw MethodError.invalidOption(option: "dropout", value: "\(dropout)", reason: "must be in [0, 1)") }
        guard !targets.isEmpty else { throw MethodError.invalidOption(option: "targets", value: "[]", reason: "needs at least one projection") }
    }
}

/// Bad method names and options, named precisely.
public enum MethodError: Error, Equatable, CustomStringConvertible {
    case unknownMethod(name: String, known: [String])
    case invalidOption(option: String, value: String, reason: String)
    case notMergeable(method: String, reason: String)

    public var description: String {
        switch self {
        case .unknownMethod(let n, let known):
            return "unknown method '\(n)'; known methods: \(known.joined(separator: ", "))"
        case .invalidOption(let o, let v, let why):
            return "invalid option \(o) = \(v): \(why)"
        case .notMergeable(let m, let why):
            return "method \(m) cannot merge: \(why)"
        }
    }
}
