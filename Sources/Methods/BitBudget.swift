import Quantization

/// Stored bits of an exported model's linear layers, per base weight: integer codes, a 16-bit
/// scale and a 16-bit zero/offset per group, and any 16-bit float parts (an unmerged adapter).
struct BitBudget {
    private var bits = 0.0
    private var weights = 0

    /// A packed layer: `bits` per code plus 32 bits per (row, group).
    mutating func add(_ q: QuantizedMatrix) {
        weights += q.rows * q.cols
        bits += Double(q.rows * q.cols * q.bits + q.rows * q.groupCount * 32)
    }

    /// `count` extra 16-bit floats riding on the layers already added.
    mutating func addFloat16(_ count: Int) { bits += Double(16 * count) }

    var perWeight: Double { weights == 0 ? 0 : bits / Double(weights) }
}
