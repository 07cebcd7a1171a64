import Models
import Tensor

/// The seven projections of a LLaMA block, named as in llama.cpp's GGUF tensors (the quantizer's key;
/// Training's `LinearSite` adds the block index).
public enum BlockProjection: String, CaseIterable, Codable, Sendable {
    case q = "attn_q", k = "attn_k", v = "attn_v", o = "attn_output"
    case gate = "ffn_gate", up = "ffn_up", down = "ffn_down"

    /// Which input the site reads; sites with the same input share one calibration Hessian.
    public enum Input: CaseIterable, Sendable {
        /// The attention RMSNorm output (q, k, v): the residual stream's dimension.
        case attention
        /// The concatenated attention heads (o).
        case heads
        /// The MLP RMSNorm output (gate, up): the residual stream's dimension.
        case mlp
        /// The SwiGLU product (down).
        case intermediate
    }

    public var input: Input {
        switch self {
        case .q, .k, .v: return .attention
        case .o: return .heads
        case .gate, .up: return .mlp
        case .down: return .intermediate
        }
    }

    /// Whether the site reads the (normalised) residual stream, whose dimension Offline Global
    /// Reordering permutes for the whole network.
    public var readsResidual: Bool { input == .attention || input == .mlp }
}

extension Llama.Block {
    /// The projection at `site`.
    public subscript(site: BlockProjection) -> any LinearOperator {
        get {
            switch site {
            case .q: return q
            case .k: return k
            case .v: return v
            case .o: return o
            case .gate: return gate
            case .up: return up
            case .down: return down
            }
        }
        set {
            switch site {
            case .q: q = newValue
            case .k: k = newValue
            case .v: v = newValue
            case .o: o = newValue
            case .gate: gate = newValue
            case .up: up = newValue
            case .down: down = newValue
            }
        }
    }
}

extension LlamaLayerWeights {
    /// The (out, in) weight at `site`.
    public subscript(site: BlockProjection) -> Matrix {
        get {
            switch site {
            case .q: return wq
            case .k: return wk
            case .v: return wv
            case .o: return wo
            case .gate: return gate
            case .up: return up
            case .down: return down
            }
        }
        set {
            switch site {
            case .q: wq = newValue
            case .k: wk = newValue
            case .v: wv = newValue
            case .o: wo = newValue
            case .gate: gate = newValue
            case .up: up = newValue
            case .down: down = newValue
            }
        }
    }
}
