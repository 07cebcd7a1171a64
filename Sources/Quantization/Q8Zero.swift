import Models
import Tensor

/// llama.cpp's Q8_0 grid: groups of 32 input columns, an fp16 scale d = absmax / 127 and codes
/// −127…127 (stored shifted by the zero point 128). SmolLM2's GGUF keeps its tied embedding in
/// exactly this form, and llama.cpp's Q4_0 conversion of the model keeps the head at Q8_0 too (its
/// Q6_K choice for the output tensor falls back to Q8_0 because 576 is not a multiple of 256), so
/// an 8-bit head is the like-for-like deployment when decode speed is compared with llama.cpp.
/// Weights already on a Q8_0 grid come back bit for bit: d·127 is exact in Float for an fp16 d.
public enum Q8Zero {
    public static let groupSize = 32

    /// `weight` on the Q8_0 grid; its columns must be a multiple of 32.
    public static func quantize(_ weight: Matrix) throws -> QuantizedMatrix {
        guard weight.cols % groupSize == 0 else {
            throw QuantizationError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                                  reason: "Q8_0 needs the input features (\(weight.cols)) to be a multiple of 32")
        }
        var q = QuantizedMatrix(rows: weight.rows, cols: weight.cols, bits: 8, groupSize: groupSize)
        let gc = weight.cols / groupSize
        weight.storage.withUnsafeBufferPointer { w in
            for r in 0..<weight.rows {
                for g in 0..<gc {
                    let start = r * weight.cols + g * groupSize
                    var amax: Float = 0
                    for j in start..<(start + groupSize) { amax = max(amax, abs(w[j])) }
                    let d = Float(Float16(amax / 127))
                    let inverse: Float = d > 0 ? 1 / d : 0
                    q.setParameters(row: r, group: g, GridParameters(scale: d > 0 ? d : 1, zero: 128))
                    for j in start..<(start + groupSize) {
                        q.codes[j] = UInt8(min(max((w[j] * inverse).rounded(.toNearestOrEven), -127), 127) + 128)
                    }
                }
            }
        }
        return q
    }
}

extension Llama {
    /// Runs the head on packed Q8_0 codes (see `Q8Zero`); the embedding lookup keeps its floats.
    public func quantizeHead() throws {
        guard let dense = head as? DenseLinear else {
            throw QuantizationError.invalidOption(option: "head", value: "\(type(of: head))", reason: "only a float head can be put on the Q8_0 grid")
        }
        head = QuantizedLinear(try PackedWeights(try Q8Zero.quantize(dense.weight)))
    }
}
