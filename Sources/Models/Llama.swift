import Tensor

/// The LLaMA decoder: pre-norm blocks of causal GQA attention with RoPE and a SwiGLU MLP, a final
/// RMSNorm and a (possibly tied) head.
///
/// Shape legend: B sequences packed into N = Σ Tᵢ rows; D = dim, Q = heads·headDim, H = hidden,
/// V = vocab, KV = kvDim.
///   x (N, D) → [RMSNorm → q (N, Q), k (N, KV), v (N, KV) (+ biases) → RoPE → attention (sliding
///            window in the layers that have one) → o] + x
///            → [RMSNorm → gate, up (N, H) → SwiGLU → down] + x → RMSNorm → head (rows asked, V)
/// Every projection is a `LinearOperator`, so quantized or adapted layers replace dense ones in place.
/// Not reentrant: one forward at a time per instance (the workspace is reused across calls); use
/// `replica()` for concurrent forwards.
public final class Llama {
    /// One transformer block's parameters.
    public struct Block {
        public var attnNorm: [Float]
        public var q, k, v, o: any LinearOperator
        public var ffnNorm: [Float]
        public var gate, up, down: any LinearOperator
        /// Float biases added after their projection, whatever form the projection takes.
        public var biases: [Projection: [Float]] = [:]

        /// The projection `p`.
        public subscript(p: Projection) -> any LinearOperator {
            get {
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
            set {
                switch p {
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

        /// y (rows, out) = p(x), plus p's bias when it has one.
        func apply(_ p: Projection, _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
            let layer = self[p]
            layer.apply(x, rows: rows, into: y)
            if let b = biases[p] { Bias.add(b, to: y, rows: rows) }
        }
    }

    public let config: LlamaConfig
    public var blocks: [Block]
    public let tokenEmbedding: Matrix
    public let finalNorm: [Float]
    public var head: any LinearOperator
    public let rope: RoPE
    private let ws = Workspace()

    /// Builds the model from `weights` for products in `precision`; RoPE tables cover
    /// `maxPositions` (default: the model's context length).
    ///
    /// fp32 (the default, and bf16 where it falls back, `ComputePrecision.effective`): dense float32
    /// layers (`DenseLinear`) sharing the weights' storage, which serve training and exports too and
    /// round a cached bf16 copy when run in a bf16 scope. bf16: every projection and the head keep
    /// only their bf16 form (`BF16Linear`), each fp32 matrix released once rounded, so a scoring
    /// model holds half the bytes and building it peaks at the fp32 weights plus one block. The
    /// embedding stays fp32: its rows enter the residual stream unrounded, as in the fp32 model and
    /// PyTorch's autocast. The release frees memory only where the caller does not keep `weights`.
    public init(_ weights: consuming LlamaWeights, maxPositions: Int? = nil, precision: ComputePrecision = .fp32) {
        let c = weights.config
        config = c
        let frozen: (Matrix) -> any LinearOperator = ComputePrecision.effective(precision).precision == .bf16
            ? { BF16Linear(BF16Matrix($0)) } : { DenseLinear($0) }
        var layers = weights.layers
        weights.layers = []
        blocks = []
        while !layers.isEmpty {
            let l = layers.removeFirst()  // the last reference to its fp32 matrices, dropped below
            blocks.append(Block(attnNorm: l.attnNorm, q: frozen(l.wq), k: frozen(l.wk), v: frozen(l.wv), o: frozen(l.wo),
                                ffnNorm: l.ffnNorm, gate: frozen(l.gate), up: frozen(l.up), down: frozen(l.down),
                                biases: l.biases))
        }
        tokenEmbedding = weights.tokenEmbedding
        finalNorm = weights.finalNorm
        let output = weights.output
        weights.output = nil
        head = frozen(output ?? weights.tokenEmbedding)
        rope = RoPE(c, maxPositions: maxPositions)
    }

    /// Another instance over the same weights with its own workspace, so two threads can run
    /// forwards at once (data-parallel scoring); nil when a layer keeps scratch state of its own
    /// (adapters, training layers) and so must not be shared. The replica holds the layers this
    /// model holds now: later swaps of `blocks` or `head` do not reach it.
    public func replica() -> Llama? {
        let layers: [any LinearOperator] = blocks.flatMap { b in Projection.allCases.map { b[$0] } } + [head]
        guard layers.allSatisfy({ $0 is any ReentrantLinear }) else { return nil }
        return Llama(config: config, blocks: blocks, tokenEmbedding: tokenEmbedding, finalNorm: finalNorm, head: head, rope: rope)
    }

    private init(config: LlamaConfig, blocks: [Block], tokenEmbedding: Matrix, finalNorm: [Float], head: any LinearOperator, rope: RoPE) {
        self.config = config
        self.blocks = blocks
        self.tokenEmbedding = tokenEmbedding
        self.finalNorm = finalNorm
        self.head = head
        self.rope = rope
    }

    /// Runs the packed batch and returns logits (rows asked, V) in the order the rows were asked
    /// (`.lastOfEachSequence`: one row per sequence, in batch order). With a cache, each sequence
    /// continues its slot and the cache keeps the new keys/values.
    public func forward(_ batch: TokenBatch, cache: KVCache? = nil, logits which: LogitRows = .all) throws -> Matrix {
        let rows = rowsFor(which, batch)
        var out = Matrix(zeros: rows.count, config.vocabSize)
        let V = config.vocabSize
        try forward(batch, cache: cache, logitRows: rows) { i, logits in
            out.storage.withUnsafeMutableBufferPointer { (o: inout UnsafeMutableBufferPointer<Float>) in
                (o.baseAddress! + i * V).update(from: logits.baseAddress!, count: V)
            }
        }
        return out
    }

    /// Runs the packed batch and hands the logits of each asked row to `body(i, logits)` (i indexes
    /// `logitRows`), computing the head `headChunk` rows at a time so memory stays bounded however
    /// many rows are scored.
    public func forward(
        _ batch: TokenBatch, cache: KVCache? = nil, logitRows: [Int], headChunk: Int = 256,
        _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void
    ) throws {
        let c = config, N = batch.rowCount, D = c.dim
        let past = try validate(batch, cache: cache)
        if N == 0 { return }
        for r in logitRows where r < 0 || r >= N {
            throw LlamaError.invalidLogitRow(row: r, rows: N)
        }

        let x = ws.x.reserve(N * D), xb = ws.xb.reserve(N * D)
        setPositions(batch, past: past)
        embed(batch, into: x)
        for l in blocks.indices { runBlock(l, x, batch: batch, past: past, cache: cache) }
        if let cache { for s in batch.sequences { cache.advance(slot: s.slot, by: s.count) } }

        // Final norm and head on the asked rows only, a chunk at a time.
        let V = c.vocabSize, chunk = Swift.max(1, headChunk)
        let normed = ws.headIn.reserve(Swift.min(chunk, logitRows.count) * D)
        let logits = ws.logits.reserve(Swift.min(chunk, logitRows.count) * V)
        var start = 0
        while start < logitRows.count {
            let n = Swift.min(chunk, logitRows.count - start)
            for i in 0..<n { (xb + i * D).update(from: x + logitRows[start + i] * D, count: D) }
            finalNorm.withUnsafeBufferPointer {
                RMSNorm.forward(xb, weight: $0.baseAddress!, eps: c.normEps, rows: n, dim: D, into: normed)
            }
            head.apply(normed, rows: n, into: logits)
            for i in 0..<n { try body(start + i, UnsafeBufferPointer(start: logits + i * V, count: V)) }
            start += n
        }
    }

    func rowsFor(_ which: LogitRows, _ batch: TokenBatch) -> [Int] {
        switch which {
        case .all: return Array(0..<batch.rowCount)
        case .lastOfEachSequence: return batch.sequences.filter { $0.count > 0 }.map { $0.offset + $0.count - 1 }
        case .rows(let r): return r
        case .none: return []
        }
    }

    /// Hidden states (N, D) of `batch` after the token embedding (no cache: every sequence starts at 0).
    public func embed(_ batch: TokenBatch) throws -> [Float] {
        _ = try validate(batch, cache: nil)
        var x = [Float](repeating: 0, count: batch.rowCount * config.dim)
        x.withUnsafeMutableBufferPointer { embed(batch, into: $0.baseAddress!) }
        return x
    }

    /// Runs blocks `range` in place on hidden states (N, D) of `batch` (no cache). Calibration uses
    /// this to walk the model block by block, feeding each block the output of the already
    /// quantized blocks before it.
    public func runBlocks(_ range: Range<Int>, hidden: inout [Float], batch: TokenBatch) throws {
        let past = try validate(batch, cache: nil)
        precondition(hidden.count == batch.rowCount * config.dim, "hidden states must be (rows, dim)")
        setPositions(batch, past: past)
        hidden.withUnsafeMutableBufferPointer { x in
            for l in range { runBlock(l, x.baseAddress!, batch: batch, past: past, cache: nil) }
        }
    }

    private func embed(_ batch: TokenBatch, into x: UnsafeMutablePointer<Float>) {
        let D = config.dim
        tokenEmbedding.storage.withUnsafeBufferPointer { e in
            for (r, t) in batch.tokens.enumerated() { (x + r * D).update(from: e.baseAddress! + t * D, count: D) }
        }
    }

    private func setPositions(_ batch: TokenBatch, past: [Int]) {
        ws.positions.removeAll(keepingCapacity: true)
        for (s, p) in zip(batch.sequences, past) { for t in 0..<s.count { ws.positions.append(Int32(p + t)) } }
    }

    /// One pre-norm block in place on x (N, D): attention with RoPE (keys/values into `cache` when
    /// given), then the SwiGLU MLP, each added to the residual stream.
    private func runBlock(_ l: Int, _ x: UnsafeMutablePointer<Float>, batch: TokenBatch, past: [Int], cache: KVCache?) {
        let c = config, N = batch.rowCount, D = c.dim, Q = c.queryDim, KV = c.kvDim, H = c.hiddenDim, b = blocks[l]
        let xb = ws.xb.reserve(N * D), att = ws.att.reserve(N * Q)
        let q = ws.q.reserve(N * Q), k = ws.k.reserve(N * KV), v = ws.v.reserve(N * KV)
        let h1 = ws.h1.reserve(N * H), h2 = ws.h2.reserve(N * H)
        let maxT = batch.sequences.map(\.count).max() ?? 0
        let maxL = zip(batch.sequences, past).map { $0.count + $1 }.max() ?? 0
        let scoresPerCore = Swift.max(maxT, c.headCount) * maxL, scores = ws.scores.reserve(SecondCore.cores * scoresPerCore)
        b.attnNorm.withUnsafeBufferPointer { RMSNorm.forward(x, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb) }
        b.apply(.q, xb, rows: N, into: q)
        b.apply(.k, xb, rows: N, into: k)
        b.apply(.v, xb, rows: N, into: v)
        ws.positions.withUnsafeBufferPointer { pos in
            rope.apply(q, rows: N, heads: c.headCount, stride: Q, positions: pos.baseAddress!)
            rope.apply(k, rows: N, heads: c.kvHeadCount, stride: KV, positions: pos.baseAddress!)
        }
        let attended = zip(batch.sequences, past).map { s, p in
            let segs: [CausalAttention.KeyValueSegment]
            if let cache {
                for t in 0..<s.count {
                    cache.key(layer: l, slot: s.slot, position: p + t).update(from: k + (s.offset + t) * KV, count: KV)
                    cache.value(layer: l, slot: s.slot, position: p + t).update(from: v + (s.offset + t) * KV, count: KV)
                }
                segs = cache.segments(slot: s.slot, length: p + s.count).map { g in
                    .init(keys: cache.key(layer: l, slot: g.slot, position: g.start),
                          values: cache.value(layer: l, slot: g.slot, position: g.start), count: g.count, stride: KV)
                }
            } else {
                segs = [.init(keys: k + s.offset * KV, values: v + s.offset * KV, count: s.count, stride: KV)]
            }
            return (s: s, p: p, segs: segs)
        }
        CausalAttention.share(attended, kvHeads: c.kvHeadCount, scratchPerCore: scoresPerCore,
                              cost: { $0.s.count * ($0.s.count + $0.p) }) { item, g, scratch in
            let (s, p, segs) = item
            CausalAttention.forward(
                q: q + s.offset * Q, queries: s.count, qStride: Q, segments: segs, past: p,
                heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.window(layer: l), groups: g..<g + 1,
                out: att + s.offset * Q, outStride: Q, scores: scores + scratch)
        }
        b.apply(.o, att, rows: N, into: xb)
        SIMDMath.add(xb, into: x, N * D)

        b.ffnNorm.withUnsafeBufferPointer { RMSNorm.forward(x, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb) }
        b.apply(.gate, xb, rows: N, into: h1)
        b.apply(.up, xb, rows: N, into: h2)
        SwiGLU.forward(gate: h1, up: h2, count: N * H, into: h1)
        b.apply(.down, h1, rows: N, into: xb)
        SIMDMath.add(xb, into: x, N * D)
    }

    /// Checks tokens, slots and lengths; returns each sequence's starting position.
    private func validate(_ batch: TokenBatch, cache: KVCache?) throws -> [Int] {
        for (i, t) in batch.tokens.enumerated() where t < 0 || t >= config.vocabSize {
            throw LlamaError.tokenOutOfRange(token: t, position: i, vocabSize: config.vocabSize)
        }
        var used = Set<Int>()
        return try batch.sequences.map { s in
            let past: Int
            let limit: Int
            if let cache {
                guard s.slot >= 0 && s.slot < cache.slotCount else {
                    throw LlamaError.invalidSlot(slot: s.slot, slots: cache.slotCount)
                }
                guard used.insert(s.slot).inserted else { throw LlamaError.duplicateSlot(slot: s.slot) }
                past = cache.lengths[s.slot]
                limit = Swift.min(cache.capacity, rope.maxPositions)
            } else {
                past = 0
                limit = rope.maxPositions
            }
            if past + s.count > limit { throw LlamaError.contextOverflow(slot: s.slot, length: past + s.count, limit: limit) }
            return past
        }
    }

    /// Scratch buffers reused across forward calls.
    private final class Workspace {
        let x = FloatBuffer(), xb = FloatBuffer(), att = FloatBuffer()
        let q = FloatBuffer(), k = FloatBuffer(), v = FloatBuffer()
        let h1 = FloatBuffer(), h2 = FloatBuffer(), scores = FloatBuffer(), headIn = FloatBuffer(), logits = FloatBuffer()
        var positions: [Int32] = []
    }
}
