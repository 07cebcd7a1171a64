import Foundation
import Models
import Quantization
import Tensor
import Training

/// The post-training quantizer that produces a method's frozen integer base, chosen with
/// `extra["base"]`: 0 = round-to-nearest, 1 = GPTQ (needs calibration windows).
public enum BaseQuantizer: Int, Sendable, CustomStringConvertible {
    case rtn = 0
    case gptq = 1

    public var description: String { self == .rtn ? "rtn" : "gptq" }
}

/// The frozen integer base of the quantized-adapter methods (QA-LoRA, LoTA-QAF, QLoRA*, LoftQ*):
/// every projection of every block on a b-bit asymmetric grid with integer zero points (GPTQ's
/// convention, w = s·(q − z)), groups of `groupSize` consecutive input columns. Embeddings, norms
/// and the head stay in float.
struct QuantizedBase {
    var layers: [LinearSite: QuantizedMatrix]

    static func make(_ context: MethodContext, bits: Int, groupSize: Int, quantizer: BaseQuantizer,
                     method: String) throws -> QuantizedBase {
        let options = MethodOptions(bits: bits, groupSize: groupSize)
        switch quantizer {
        case .rtn:
            // An RTN model quantized upstream (packable group sizes only) holds these very grids.
            if let held = context.quantizations?.held(options.modelQuantization(.rtn)) { return QuantizedBase(held) }
            var layers: [LinearSite: QuantizedMatrix] = [:]
            let grid = try UniformQuantizer(bits: bits, grid: .asymmetric)
            _ = try context.weights.mapLinears { site, w in
                layers[site] = try grid.quantize(w, groupSize: groupSize)
                return w
            }
            return QuantizedBase(layers: layers)
        case .gptq:
            return QuantizedBase(try quantizeModel(context, options.modelQuantization(.gptq), method: method))
        }
    }

    init(layers: [LinearSite: QuantizedMatrix]) { self.layers = layers }

    /// The unpacked grids of a whole-model quantization.
    init(_ model: QuantizedModel) {
        var layers: [LinearSite: QuantizedMatrix] = [:]
        for (l, block) in model.layers.enumerated() {
            for p in Projection.allCases {
                let site = LinearSite(layer: l, projection: p)
                layers[site] = block[site.projection]!.lowBit.unpacked()
            }
        }
        self.layers = layers
    }

    func grid(_ site: LinearSite) -> QuantizedMatrix { layers[site]! }
}

/// Rejects adapter dropout for methods whose adapter acts on the weights (it could not be merged).
func requireNoDropout(_ options: MethodOptions, method: String) throws {
    guard options.dropout == 0 else {
        throw MethodError.invalidOption(option: "dropout", value: "\(options.dropout)",
                                        reason: "\(method) merges its adapter into the weights, so it trains without dropout")
    }
}

/// A `Llama` with `weights`' embeddings, norms and head and every projection taken from `layer`.
func assembledModel(_ weights: LlamaWeights, _ layer: (LinearSite) throws -> any LinearOperator) rethrows -> Llama {
    let model = Llama(weights)
    for l in model.blocks.indices {
        for p in Projection.allCases { model.blocks[l][p] = try layer(LinearSite(layer: l, projection: p)) }
    }
    return model
}

/// Tracks whether a set of parameters changed since it was last recorded, so a layer rebuilds its
/// effective weight only after an optimizer step (not for every micro-batch or evaluation pass).
struct ParameterSnapshot {
    private var values: [[Float]] = []

    /// Records the current values and returns how many entries differ from the previous record
    /// (nil on the first call, when there was nothing to compare).
    mutating func update(_ parameters: [Parameter]) -> Int? {
        let first = values.isEmpty
        if first { values = parameters.map { [Float](repeating: .nan, count: $0.count) } }
        var changed = 0
        for (k, p) in parameters.enumerated() {
            let v = p.value.pointer
            values[k].withUnsafeMutableBufferPointer { old in
                for i in 0..<p.count where old[i] != v[i] {
                    old[i] = v[i]
                    changed += 1
                }
            }
        }
        return first ? nil : changed
    }

    /// Whether any value differs from the last record.
    func isStale(_ parameters: [Parameter]) -> Bool {
        if values.isEmpty { return true }
        for (k, p) in parameters.enumerated() {
            let same = values[k].withUnsafeBytes { memcmp($0.baseAddress!, p.value.pointer, p.count * 4) == 0 }
            if !same { return true }
        }
        return false
    }
}
