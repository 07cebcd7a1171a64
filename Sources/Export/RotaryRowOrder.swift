import Models
import Quantization

/// Hugging Face's order of the q/k rows of a model read from a llama.cpp GGUF.
///
/// llama.cpp's converter (convert_hf_to_gguf.py, `LlamaModel.permute`) reorders each head's rows so
/// RoPE rotates adjacent pairs: within a head of d rows, GGUF row 2i + j holds Hugging Face row
/// j·d/2 + i (i < d/2, j ∈ {0, 1}), the first half rotating against the second. qaft computes with
/// the GGUF order (`RoPEStyle.interleaved`); a Hugging Face folder needs the original order back.
/// Permuting a projection's output rows permutes whole rows of its grid (codes, scales and zeros
/// together) and of its bias, so the values themselves are unchanged.
enum RotaryRowOrder {
    /// For each Hugging Face row of a q or k projection with `heads` heads of `headDim` rows, the
    /// GGUF row that holds it.
    static func huggingFaceRows(heads: Int, headDim: Int) -> [Int] {
        let half = headDim / 2
        return (0..<heads * headDim).map { r in
            let head = r / headDim, within = r % headDim
            return head * headDim + 2 * (within % half) + within / half
        }
    }

    /// The rows of q (`heads` = attention heads) and k (`heads` = kv heads) of `config`, in Hugging
    /// Face's order; nil for other projections or a model already in that order.
    static func huggingFaceRows(_ p: Projection, _ config: LlamaConfig) -> [Int]? {
        guard config.ropeStyle == .interleaved else { return nil }
        switch p {
        case .q: return huggingFaceRows(heads: config.headCount, headDim: config.headDim)
        case .k: return huggingFaceRows(heads: config.kvHeadCount, headDim: config.headDim)
        default: return nil
        }
    }

    /// `values`, rows of `width` elements, reordered so row r is old row `order[r]`.
    static func rows<T>(_ values: [T], width: Int, _ order: [Int]) -> [T] {
        precondition(values.count == order.count * width, "\(values.count) values are not \(order.count) rows of \(width)")
        var out: [T] = []
        out.reserveCapacity(values.count)
        for r in order { out += values[r * width..<(r + 1) * width] }
        return out
    }

    /// `q` with its rows reordered (codes, scales, zeros, offsets).
    static func rows(_ q: QuantizedMatrix, _ order: [Int]) -> QuantizedMatrix {
        var out = q
        out.codes = rows(q.codes, width: q.cols, order)
        out.scales = rows(q.scales, width: q.groupCount, order)
        out.zeros = rows(q.zeros, width: q.groupCount, order)
        out.offsets = q.offsets.map { rows($0, width: q.groupCount, order) }
        return out
    }
}
