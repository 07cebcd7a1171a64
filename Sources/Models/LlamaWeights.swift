import Tensor

/// The weights of one transformer block. Linear weights are (out, in) row-major.
public struct LlamaLayerWeights: Sendable {
    public var attnNorm: [Float]
    public var wq: Matrix
    public var wk: Matrix
    public var wv: Matrix
    public var wo: Matrix
    public var ffnNorm: [Float]
    public var gate: Matrix
    public var up: Matrix
    public var down: Matrix

    public init(attnNorm: [Float], wq: Matrix, wk: Matrix, wv: Matrix, wo: Matrix,
                ffnNorm: [Float], gate: Matrix, up: Matrix, down: Matrix) {
        self.attnNorm = attnNorm
        self.wq = wq
        self.wk = wk
        self.wv = wv
        self.wo = wo
        self.ffnNorm = ffnNorm
        self.gate = gate
        self.up = up
        self.down = down
    }
}

/// All weights of a LLaMA model in float32, whatever the file stored (quantized tensors are
/// dequantized on load).
public struct LlamaWeights: Sendable {
    public var config: LlamaConfig
    /// (vocab, dim)
    public var tokenEmbedding: Matrix
    public var layers: [LlamaLayerWeights]
    public var finalNorm: [Float]
    /// (vocab, dim); nil when the head is tied to `tokenEmbedding`.
    public var output: Matrix?

    public init(config: LlamaConfig, tokenEmbedding: Matrix, layers: [LlamaLayerWeights],
                finalNorm: [Float], output: Matrix?) {
        self.config = config
        self.tokenEmbedding = tokenEmbedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.output = output
    }

    /// The head matrix actually used for logits.
    public var head: Matrix { output ?? tokenEmbedding }

    /// Checks every tensor's shape against the config, naming the first one that disagrees.
    public func validateShapes(source: String) throws {
        let c = config
        func expect(_ name: String, _ m: Matrix, _ rows: Int, _ cols: Int) throws {
            if m.rows != rows || m.cols != cols {
                throw ModelFormatError.shapeMismatch(file: source, tensor: name, expected: [rows, cols], found: [m.rows, m.cols])
            }
        }
        func expect(_ name: String, _ v: [Float], _ n: Int) throws {
            if v.count != n { throw ModelFormatError.shapeMismatch(file: source, tensor: name, expected: [n], found: [v.count]) }
        }
        try expect("token_embedding", tokenEmbedding, c.vocabSize, c.dim)
        if layers.count != c.layerCount {
            throw ModelFormatError.invalidConfig(file: source, field: "layerCount",
                                                 reason: "config says \(c.layerCount), weights have \(layers.count)")
        }
        for (i, l) in layers.enumerated() {
            try expect("layer \(i) attn_norm", l.attnNorm, c.dim)
            try expect("layer \(i) wq", l.wq, c.dim, c.dim)
            try expect("layer \(i) wk", l.wk, c.kvDim, c.dim)
            try expect("layer \(i) wv", l.wv, c.kvDim, c.dim)
            try expect("layer \(i) wo", l.wo, c.dim, c.dim)
            try expect("layer \(i) ffn_norm", l.ffnNorm, c.dim)
            try expect("layer \(i) gate", l.gate, c.hiddenDim, c.dim)
            try expect("layer \(i) up", l.up, c.hiddenDim, c.dim)
            try expect("layer \(i) down", l.down, c.dim, c.hiddenDim)
        }
        try expect("final_norm", finalNorm, c.dim)
        if let o = output { try expect("output", o, c.vocabSize, c.dim) }
    }
}
