import Tensor

/// The weights of one transformer block. Linear weights are (out, in) row-major; a projection may
/// carry a bias (Qwen2's q/k/v, LLaMA's `attention_bias`/`mlp_bias`), added after it and never trained.
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
    /// (out) bias of each projection that has one.
    public var biases: [Projection: [Float]]

    public init(attnNorm: [Float], wq: Matrix, wk: Matrix, wv: Matrix, wo: Matrix,
                ffnNorm: [Float], gate: Matrix, up: Matrix, down: Matrix, biases: [Projection: [Float]] = [:]) {
        self.attnNorm = attnNorm
        self.wq = wq
        self.wk = wk
        self.wv = wv
        self.wo = wo
        self.ffnNorm = ffnNorm
        self.gate = gate
        self.up = up
        self.down = down
        self.biases = biases
    }

    /// A block from its norms and, for each projection, its weight and bias (nil: none).
    public init(attnNorm: [Float], ffnNorm: [Float], projections: (Projection) throws -> (weight: Matrix, bias: [Float]?)) rethrows {
        let empty = Matrix(zeros: 0, 0)
        self.init(attnNorm: attnNorm, wq: empty, wk: empty, wv: empty, wo: empty, ffnNorm: ffnNorm, gate: empty, up: empty, down: empty)
        for p in Projection.allCases {
            let (w, b) = try projections(p)
            self[p] = w
            biases[p] = b
        }
    }

    /// The (out, in) weight of projection `p`.
    public subscript(p: Projection) -> Matrix {
        get {
            switch p {
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
            switch p {
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
            try expect("layer \(i) ffn_norm", l.ffnNorm, c.dim)
            for p in Projection.allCases {
                let (rows, cols) = p.shape(c)
                try expect("layer \(i) \(p.ggufName)", l[p], rows, cols)
                if let b = l.biases[p] { try expect("layer \(i) \(p.ggufName) bias", b, rows) }
            }
        }
        try expect("final_norm", finalNorm, c.dim)
        if let o = output { try expect("output", o, c.vocabSize, c.dim) }
    }
}
