/// How rotary embeddings pair the dimensions of a head. llama.cpp's GGUF converter and llama2.c
/// permute Q/K rows so pairs are adjacent (x[2i], x[2i+1]); Hugging Face checkpoints rotate the
/// first half against the second (x[i], x[i+d/2]). The format decides, never the user.
public enum RoPEStyle: String, Codable, Sendable {
    case interleaved
    case rotateHalf
}

/// Shape and constants of a LLaMA-architecture model: LLaMA-1/2/3, Mistral and Qwen2 differ only in
/// what this describes (head dimension, RoPE scaling, sliding windows) and in which projections
/// carry a bias (`LlamaLayerWeights.biases`).
public struct LlamaConfig: Codable, Equatable, Sendable {
    public var dim: Int
    public var hiddenDim: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var ropeTheta: Float
    public var normEps: Float
    public var ropeStyle: RoPEStyle
    /// The output head shares the token-embedding matrix.
    public var tiedEmbeddings: Bool
    /// Dimension of one attention head (Mistral and Qwen configs may set it apart from dim / heads).
    public var headDim: Int
    /// How RoPE frequencies are rescaled for long contexts.
    public var ropeScaling: RoPEScaling
    /// Keys a query sees in sliding-window layers, its own included (Mistral, Qwen2); nil: full causal attention.
    public var slidingWindow: Int?
    /// The layers that use `slidingWindow`; nil means all of them.
    public var slidingLayers: [Int]?

    public init(
        dim: Int, hiddenDim: Int, layerCount: Int, headCount: Int, kvHeadCount: Int, vocabSize: Int,
        contextLength: Int, ropeTheta: Float, normEps: Float, ropeStyle: RoPEStyle, tiedEmbeddings: Bool,
        headDim: Int? = nil, ropeScaling: RoPEScaling = .none, slidingWindow: Int? = nil, slidingLayers: [Int]? = nil
    ) {
        self.dim = dim
        self.hiddenDim = hiddenDim
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.ropeStyle = ropeStyle
        self.tiedEmbeddings = tiedEmbeddings
        self.headDim = headDim ?? (headCount > 0 ? dim / headCount : 0)
        self.ropeScaling = ropeScaling
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers
    }

    /// Width of the concatenated query heads (q's output, o's input).
    public var queryDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    /// The sliding window of layer `l`, nil when it attends to every earlier position.
    public func window(layer l: Int) -> Int? {
        guard let w = slidingWindow else { return nil }
        if let layers = slidingLayers, !layers.contains(l) { return nil }
        return w
    }

    /// Forward FLOPs per token at short context (2 per multiply–add of every weight, head included).
    public var flopsPerToken: Double {
        let attn = 2 * dim * queryDim + 2 * dim * kvDim
        let ffn = 3 * dim * hiddenDim
        return 2 * Double(layerCount * (attn + ffn) + dim * vocabSize)
    }

    /// Rejects shapes the forward pass cannot run, naming the offending field.
    public func validate(source: String) throws {
        func check(_ ok: Bool, _ field: String, _ why: String) throws {
            if !ok { throw ModelFormatError.invalidConfig(file: source, field: field, reason: why) }
        }
        for (name, v) in [("dim", dim), ("hiddenDim", hiddenDim), ("layerCount", layerCount),
                          ("headCount", headCount), ("kvHeadCount", kvHeadCount),
                          ("vocabSize", vocabSize), ("contextLength", contextLength)] {
            try check(v > 0, name, "must be positive, is \(v)")
        }
        try check(headDim > 0, "headDim", "must be positive, is \(headDim)")
        try check(headCount % kvHeadCount == 0, "kvHeadCount",
                  "\(kvHeadCount) does not divide headCount \(headCount)")
        try check(headDim % 2 == 0, "headDim", "head dimension \(headDim) must be even for RoPE")
        if let w = slidingWindow { try check(w > 0, "slidingWindow", "must be positive, is \(w)") }
        for l in slidingLayers ?? [] {
            try check((0..<layerCount).contains(l), "slidingLayers", "layer \(l) is outside 0..<\(layerCount)")
        }
        try ropeScaling.validate(headDim: headDim, source: source)
        try check(ropeTheta > 0 && ropeTheta.isFinite, "ropeTheta", "must be positive, is \(ropeTheta)")
        try check(normEps > 0 && normEps.isFinite, "normEps", "must be positive, is \(normEps)")
    }
}
