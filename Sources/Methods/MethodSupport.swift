import Models
import Quantization
import Tensor
import Training

extension LlamaWeights {
    /// A copy with every linear weight replaced by `transform(site, weight)`.
    public func mapLinears(_ transform: (LinearSite, Matrix) throws -> Matrix) rethrows -> LlamaWeights {
        var out = self
        for l in layers.indices {
            for p in Projection.allCases { out.layers[l][p] = try transform(LinearSite(layer: l, projection: p), layers[l][p]) }
        }
        return out
    }
}

/// The base a method stored in `prepare`, or an error saying `export` came first.
func prepared<T>(_ value: T?, _ method: String) throws -> T {
    guard let value else {
        throw MethodError.invalidOption(option: "export", value: method, reason: "export called before prepare")
    }
    return value
}

/// Largest |logit| difference between two models on a fixed probe sequence: how far an export
/// (merge, integer packing) moved the model away from its training form.
public func logitDifference(_ a: Llama, _ b: Llama, probe: [Int]? = nil) throws -> Float {
    largestDifference(try probeLogits(a, probe: probe), try probeLogits(b, probe: probe))
}

/// The logits `logitDifference` compares, for a model changed in place between two calls.
func probeLogits(_ model: Llama, probe: [Int]? = nil) throws -> Matrix {
    try model.forward(TokenBatch(probe ?? (0..<32).map { ($0 * 7919 + 13) % model.config.vocabSize }))
}

func largestDifference(_ a: Matrix, _ b: Matrix) -> Float {
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.storage[i] - b.storage[i])) }
    return worst
}

/// Stored bits per weight of a uniform grid with one fp16 scale and one zero (fp16 or `zeroBits`
/// integer) per group: bits + (16 + zeroBits) / groupSize.
public func uniformBitsPerWeight(bits: Int, groupSize: Int, zeroBits: Int = 16) -> Double {
    Double(bits) + Double(16 + zeroBits) / Double(groupSize)
}

/// The fully integer export shared by the methods that train the grid itself (L4Q, PEQA, QAT):
/// every projection packed from the matrix `grid(site, layer)` reads off its trained layer, the
/// bits counted, and the packed model compared with the training form on `base`.
func integerExport(_ model: TrainableLlama, base: LlamaWeights, bits: Int,
                   _ grid: (LinearSite, any TrainableLinear) throws -> QuantizedMatrix) throws -> ExportedModel {
    var budget = BitBudget()
    let exported = try assembledModel(base) { site in
        let q = try grid(site, model.layer(site))
        budget.add(q)
        return QuantizedLinear(try PackedWeights(q))
    }
    return ExportedModel(model: exported, precision: .integer(bits: bits), bitsPerWeight: budget.perWeight,
                         mergeDifference: try logitDifference(model.inferenceModel(base), exported))
}
