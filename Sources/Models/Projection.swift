/// The seven linear projections of a block: the one table of their names in every format, their
/// inputs and their shapes. Quantizers, trainers and readers all key layers by it.
public enum Projection: String, CaseIterable, Codable, Sendable {
    case q, k, v, o, gate, up, down

    /// Which input a projection reads; projections with the same input share one calibration Hessian.
    public enum Input: CaseIterable, Sendable {
        /// The attention RMSNorm output (q, k, v): the residual stream's dimension.
        case attention
        /// The concatenated attention heads (o): heads × head dimension.
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

    /// Whether the projection reads the (normalised) residual stream, whose dimension QEFT's Offline
    /// Global Reordering permutes for the whole network.
    public var readsResidual: Bool { input == .attention || input == .mlp }

    /// Whether it writes the residual stream (o, down), so a residual permutation reorders its rows.
    public var writesResidual: Bool { self == .o || self == .down }

    /// llama.cpp's GGUF tensor stem (`blk.N.<stem>.weight`, `.bias`).
    public var ggufName: String {
        switch self {
        case .q: return "attn_q"
        case .k: return "attn_k"
        case .v: return "attn_v"
        case .o: return "attn_output"
        case .gate: return "ffn_gate"
        case .up: return "ffn_up"
        case .down: return "ffn_down"
        }
    }

    /// transformers' module path inside `model.layers.N.` (`.weight`, `.bias`).
    public var huggingFaceName: String {
        switch self {
        case .q: return "self_attn.q_proj"
        case .k: return "self_attn.k_proj"
        case .v: return "self_attn.v_proj"
        case .o: return "self_attn.o_proj"
        case .gate: return "mlp.gate_proj"
        case .up: return "mlp.up_proj"
        case .down: return "mlp.down_proj"
        }
    }

    /// The weight's (out, in) shape under `config`.
    public func shape(_ c: LlamaConfig) -> (rows: Int, cols: Int) {
        switch self {
        case .q: return (c.queryDim, c.dim)
        case .k, .v: return (c.kvDim, c.dim)
        case .o: return (c.dim, c.queryDim)
        case .gate, .up: return (c.hiddenDim, c.dim)
        case .down: return (c.dim, c.hiddenDim)
        }
    }

    /// Width of the input the projection reads under `config`.
    public func inputWidth(_ c: LlamaConfig) -> Int { shape(c).cols }
}

extension LlamaConfig {
    /// The distinct input widths of the projections, ascending: what a quantization group must divide.
    public var projectionInputWidths: [Int] { Set(Projection.allCases.map { $0.inputWidth(self) }).sorted() }
}
