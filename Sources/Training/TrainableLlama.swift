import Models
import Tensor

/// The LLaMA decoder for training: the same ops as `Llama`, with every projection a
/// `TrainableLinear`, activations kept for the backward, and a loss head that only computes the
/// rows that carry loss, a chunk at a time (logits are never held for the whole batch).
///
/// Shape legend: N packed rows, D = dim, Q = heads·headDim, KV = kvDim, H = hidden, V = vocab,
/// C = head chunk rows. Embedding, norms, biases and head are frozen (only their activation
/// gradients are computed). Not reentrant: one forward/backward at a time per instance.
public final class TrainableLlama {
    public struct Block {
        public var attnNorm: [Float]
        public var q, k, v, o: any TrainableLinear
        public var ffnNorm: [Float]
        public var gate, up, down: any TrainableLinear
        /// Frozen float biases added after their projection.
        public var biases: [Projection: [Float]] = [:]

        func layer(_ p: Projection) -> any TrainableLinear {
            switch p {
            case .q: return q
            case .k: return k
            case .v: return v
            case .o: return o
            case .gate: return gate
            case .up: return up
            case .down: return down
            }
        }
    }

    public let config: LlamaConfig
    public let blocks: [Block]
    public let tokenEmbedding: Matrix
    public let finalNorm: [Float]
    public let head: any TrainableLinear
    public let rope: RoPE
    /// Rows of logits computed at once by the loss head.
    public var headChunk = 128
    let acts: TrainingActivations

    /// The model from `weights` with every projection frozen.
    public convenience init(_ weights: LlamaWeights, maxPositions: Int? = nil) {
        self.init(weights, maxPositions: maxPositions) { FrozenLinear($1) }
    }

    /// Builds the model from `weights`, letting `wrap` turn each dense projection into a trainable
    /// layer. `maxPositions` bounds sequence length (default: the context length).
    public init(
        _ weights: LlamaWeights, maxPositions: Int? = nil,
        wrap: (LinearSite, DenseLinear) throws -> any TrainableLinear
    ) rethrows {
        let c = weights.config
        config = c
        blocks = try weights.layers.enumerated().map { l, w in
            func make(_ p: Projection, _ m: Matrix) throws -> any TrainableLinear {
                try wrap(LinearSite(layer: l, projection: p), DenseLinear(m))
            }
            return Block(attnNorm: w.attnNorm, q: try make(.q, w.wq), k: try make(.k, w.wk), v: try make(.v, w.wv),
                         o: try make(.o, w.wo), ffnNorm: w.ffnNorm,
                         gate: try make(.gate, w.gate), up: try make(.up, w.up), down: try make(.down, w.down),
                         biases: w.biases)
        }
        tokenEmbedding = weights.tokenEmbedding
        finalNorm = weights.finalNorm
        head = FrozenLinear(DenseLinear(weights.head))
        rope = RoPE(c, maxPositions: maxPositions)
        acts = TrainingActivations(layers: weights.layers.count)
    }

    /// Every declared parameter of every layer, frozen or trainable, in model order.
    public var parameters: [Parameter] {
        blocks.flatMap { b in Projection.allCases.flatMap { b.layer($0).parameters } } + head.parameters
    }

    public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }

    /// The layer at `site`.
    public func layer(_ site: LinearSite) -> any TrainableLinear { blocks[site.layer].layer(site.projection) }

    /// Bytes of saved activations and scratch currently held.
    public var activationBytes: Int { acts.bytes }

    /// An inference model sharing these layers (adapters applied unmerged, no dropout).
    public func inferenceModel(_ weights: LlamaWeights) -> Llama {
        let m = Llama(weights, maxPositions: rope.maxPositions)
        for l in m.blocks.indices {
            let b = blocks[l]
            for p in Projection.allCases { m.blocks[l][p] = b.layer(p) }
        }
        return m
    }

    /// Forward, loss and backward of one micro-batch. Parameter gradients are added to their buffers
    /// scaled by `lossScale` (the weight of one scored token in the step's loss, e.g. 1 / scored
    /// tokens of the whole step). Returns the unscaled per-sequence losses.
    public func forwardBackward(_ batch: TrainingBatch, lossScale: Float, random: SeededRandom) throws -> BatchLoss {
        try forward(batch, random: random)
        let loss = headLossAndBackward(batch, lossScale: lossScale, random: random)
        backwardBlocks(blocks.indices, tokens: batch.tokens)
        return loss
    }

    /// Per-sequence losses without dropout or gradients.
    public func loss(_ batch: TrainingBatch) throws -> BatchLoss {
        try forward(batch, random: nil)
        return headLossAndBackward(batch, lossScale: nil, random: nil)
    }

    /// ∂L/∂(embedded input) of the last `forwardBackward`, (N, D): the input gradient a trainable
    /// embedding would scatter with `Embedding.backward`.
    public func inputGradient(rows: Int) -> [Float] { acts.dResidual.array(rows * config.dim) }

    /// Runs the blocks, keeping activations. `random` nil means inference behaviour (no dropout).
    func forward(_ batch: TrainingBatch, random: SeededRandom?) throws {
        try validate(batch.tokens)
        tokenEmbedding.storage.withUnsafeBufferPointer {
            Embedding.forward(batch.tokens.tokens, table: $0.baseAddress!, dim: config.dim,
                              into: acts.residual[0].reserve(batch.tokens.rowCount * config.dim))
        }
        forwardBlocks(blocks.indices, tokens: batch.tokens, random: random)
    }

    /// Runs blocks `range` from residual[range.lowerBound] into residual[range.upperBound], keeping
    /// their activations.
    func forwardBlocks(_ range: Range<Int>, tokens: TokenBatch, random: SeededRandom?) {
        let c = config, N = tokens.rowCount, D = c.dim, Q = c.queryDim, KV = c.kvDim, H = c.hiddenDim
        let a = acts
        a.positions.removeAll(keepingCapacity: true)
        for s in tokens.sequences { for t in 0..<s.count { a.positions.append(Int32(t)) } }
        let maxT = tokens.sequences.map(\.count).max() ?? 0
        let xb = a.normed.reserve(N * D), proj = a.projected.reserve(N * D), hidden = a.hidden.reserve(N * H)
        let scores = a.scores.reserve(SecondCore.cores * maxT * maxT)
        a.ffnInBF16 = ComputePrecision.current == .bf16
        for l in range {
            let b = blocks[l], x = a.residual[l].pointer, site = l * Projection.allCases.count
            func run(_ p: Projection, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
                let layer = b.layer(p)
                if let random {
                    layer.forward(x, rows: N, into: y, random: random.split(UInt64(site + Projection.allCases.firstIndex(of: p)!)))
                } else {
                    layer.apply(x, rows: N, into: y)
                }
                if let bias = b.biases[p] { Bias.add(bias, to: y, rows: N) }
            }
            let q = a.q[l].reserve(N * Q), k = a.k[l].reserve(N * KV), v = a.v[l].reserve(N * KV)
            let att = a.attention[l].reserve(N * Q), mid = a.mid[l].reserve(N * D)
            b.attnNorm.withUnsafeBufferPointer { RMSNorm.forward(x, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb) }
            run(.q, xb, q)
            run(.k, xb, k)
            run(.v, xb, v)
            a.positions.withUnsafeBufferPointer { pos in
                rope.apply(q, rows: N, heads: c.headCount, stride: Q, positions: pos.baseAddress!)
                rope.apply(k, rows: N, heads: c.kvHeadCount, stride: KV, positions: pos.baseAddress!)
            }
            CausalAttention.share(tokens.sequences, kvHeads: c.kvHeadCount, scratchPerCore: maxT * maxT,
                                  cost: { $0.count * $0.count }) { s, g, scratch in
                CausalAttention.forward(
                    q: q + s.offset * Q, queries: s.count, qStride: Q,
                    segments: [.init(keys: k + s.offset * KV, values: v + s.offset * KV, count: s.count, stride: KV)],
                    past: 0, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.window(layer: l),
                    groups: g..<g + 1, out: att + s.offset * Q, outStride: Q, scores: scores + scratch)
            }
            run(.o, att, proj)
            mid.update(from: x, count: N * D)
            SIMDMath.add(proj, into: mid, N * D)

            b.ffnNorm.withUnsafeBufferPointer { RMSNorm.forward(mid, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb) }
            let (g, u) = a.ffnOutputs(l, count: N * H)
            run(.gate, xb, g)
            run(.up, xb, u)
            a.keepFFN(l, count: N * H)
            SwiGLU.forward(gate: g, up: u, count: N * H, into: hidden)
            run(.down, hidden, proj)
            let next = a.residual[l + 1].reserve(N * D)
            next.update(from: mid, count: N * D)
            SIMDMath.add(proj, into: next, N * D)
        }
    }

    func validate(_ tokens: TokenBatch) throws {
        for (i, t) in tokens.tokens.enumerated() where t < 0 || t >= config.vocabSize {
            throw LlamaError.tokenOutOfRange(token: t, position: i, vocabSize: config.vocabSize)
        }
        for s in tokens.sequences where s.count > rope.maxPositions {
            throw TrainingError.sequenceTooLong(length: s.count, limit: rope.maxPositions)
        }
    }
}
