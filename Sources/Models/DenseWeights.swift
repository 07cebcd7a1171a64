import Tensor

extension LinearOperator {
    /// The matrix W (out, in) this operator applies, read off by applying it to the identity
    /// (Y = I·Wᵀ). Exact for an operator with one weight matrix, dense or packed, since every
    /// output is a single product w·1 plus zeros; an operator summing several paths (a base plus
    /// an unmerged adapter) gives their sum rounded once per weight.
    public func denseWeight() -> Matrix {
        let n = inFeatures, m = outFeatures
        var identity = Matrix(zeros: n, n)
        for i in 0..<n { identity.storage[i * n + i] = 1 }
        var transposed = Matrix(zeros: n, m)
        identity.storage.withUnsafeBufferPointer { x in
            transposed.storage.withUnsafeMutableBufferPointer { y in apply(x.baseAddress!, rows: n, into: y.baseAddress!) }
        }
        return transposed.transposed()
    }
}

extension Llama {
    /// The float weights computing what this model computes: every projection and the head
    /// materialized with `denseWeight` (biases kept as they are), so any exported model (packed,
    /// merged or with fp side paths) can be stored as a plain float model. A head equal to the
    /// embedding stays tied.
    public func denseWeights() -> LlamaWeights {
        var c = config
        let layers = blocks.map { b in
            LlamaLayerWeights(attnNorm: b.attnNorm, wq: b.q.denseWeight(), wk: b.k.denseWeight(), wv: b.v.denseWeight(),
                              wo: b.o.denseWeight(), ffnNorm: b.ffnNorm, gate: b.gate.denseWeight(), up: b.up.denseWeight(),
                              down: b.down.denseWeight(), biases: b.biases)
        }
        let head = self.head.denseWeight()
        c.tiedEmbeddings = head == tokenEmbedding
        return LlamaWeights(config: c, tokenEmbedding: tokenEmbedding, layers: layers, finalNorm: finalNorm,
                            output: c.tiedEmbeddings ? nil : head)
    }
}
