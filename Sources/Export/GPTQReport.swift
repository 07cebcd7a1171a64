import Foundation

/// What `GPTQFolder.write` produced: the folder, its quantization settings, and per tensor whether
/// the folder's dequantized weights equal qaft's deployed ones bit for bit.
public struct GPTQReport: Sendable, Equatable {
    /// One written weight: a quantized projection (its qweight/qzeros/scales together) or a float tensor.
    public struct Tensor: Sendable, Equatable {
        /// The Hugging Face name (`model.layers.0.self_attn.q_proj` for a projection).
        public let name: String
        public let exact: Bool
        /// The largest |stored weight − deployed weight| (0 when exact).
        public let maxAbsError: Float
    }

    public let folder: URL
    public let bits: Int
    public let groupSize: Int
    /// Every zero point is 2^(bits−1) (GPTQ's symmetric grid).
    public let symmetric: Bool
    public let checkpointFormat: GPTQCheckpointFormat
    public let tensors: [Tensor]
    /// The files of the folder, sorted.
    public let files: [String]

    /// Whether the whole folder dequantizes to the deployed model exactly.
    public var exact: Bool { tensors.allSatisfy(\.exact) }

    /// The tensors that are not exact.
    public var inexact: [Tensor] { tensors.filter { !$0.exact } }

    /// One line per inexact tensor, or a line saying the folder is exact.
    public var summary: String {
        if exact { return "\(folder.path): exact (GPTQ \(bits)-bit, group \(groupSize), \(checkpointFormat.rawValue))" }
        return (["\(folder.path): NOT exact in \(inexact.count) of \(tensors.count) tensors"]
            + inexact.map { "  \($0.name): max |Δw| = \($0.maxAbsError)" }).joined(separator: "\n")
    }
}
