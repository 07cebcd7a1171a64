import Models
import Tensor

extension TrainableLlama {
    /// Final norm, head and cross-entropy on the scored rows, `headChunk` rows at a time. With a
    /// `lossScale`, each chunk's gradient goes straight back through the head and the final norm
    /// into dResidual (N, D), so no (N, V) logits or their gradient ever exist.
    func headLossAndBackward(_ batch: TrainingBatch, lossScale: Float?, random: SeededRandom?) -> BatchLoss {
        let c = config, N = batch.tokens.rowCount, D = c.dim, V = c.vocabSize, a = acts
        let x = a.residual[blocks.count].pointer
        let dRes = a.dResidual.reserve(N * D)
        if lossScale != nil { dRes.update(repeating: 0, count: N * D) }
        var loss = BatchLoss(sequenceNLL: .init(repeating: 0, count: batch.tokens.sequences.count),
                             sequenceTokens: .init(repeating: 0, count: batch.tokens.sequences.count))
        var rows: [Int] = [], owner: [Int] = []
        for (i, s) in batch.tokens.sequences.enumerated() {
            for r in s.offset..<(s.offset + s.count) where batch.targets[r] >= 0 {
                rows.append(r)
                owner.append(i)
            }
        }
        let chunk = Swift.max(1, Swift.min(headChunk, rows.count))
        let xin = a.headIn.reserve(chunk * D), xn = a.headNormed.reserve(chunk * D), rstd = a.headRstd.reserve(chunk)
        let logits = a.logits.reserve(chunk * V), losses = a.losses.reserve(chunk)
        let dxn = a.dHeadNormed.reserve(chunk * D), dxin = a.dHeadIn.reserve(chunk * D)
        var targets = [Int32](repeating: 0, count: chunk)
        var start = 0
        while start < rows.count {
            let n = Swift.min(chunk, rows.count - start)
            for i in 0..<n {
                (xin + i * D).update(from: x + rows[start + i] * D, count: D)
                targets[i] = batch.targets[rows[start + i]]
            }
            finalNorm.withUnsafeBufferPointer {
                RMSNorm.forward(xin, weight: $0.baseAddress!, eps: c.normEps, rows: n, dim: D, into: xn, rstd: rstd)
            }
            if let random { head.forward(xn, rows: n, into: logits, random: random.split(UInt64.max)) } else { head.apply(xn, rows: n, into: logits) }
            targets.withUnsafeBufferPointer { t in
                CrossEntropy.forward(logits, rows: n, vocab: V, targets: t.baseAddress!, losses: losses)
                for i in 0..<n {
                    loss.sequenceNLL[owner[start + i]] += Double(losses[i])
                    loss.sequenceTokens[owner[start + i]] += 1
                }
                if let scale = lossScale {
                    CrossEntropy.backward(logits, rows: n, vocab: V, targets: t.baseAddress!, scale: scale)
                }
            }
            if lossScale != nil {
                head.backward(logits, input: xn, rows: n, into: dxn, accumulate: false)
                dxin.update(repeating: 0, count: n * D)
                finalNorm.withUnsafeBufferPointer {
                    RMSNorm.backward(dxn, x: xin, weight: $0.baseAddress!, rstd: rstd, rows: n, dim: D, dx: dxin)
                }
                for i in 0..<n { SIMDMath.add(dxin + i * D, into: dRes + rows[start + i] * D, D) }
            }
            start += n
        }
        return loss
    }

    /// Backward through blocks `range`, last to first, from dResidual = ∂L/∂residual[range.upperBound];
    /// leaves ∂L/∂residual[range.lowerBound] (for all blocks, the embedded input's gradient) in dResidual.
    func backwardBlocks(_ range: Range<Int>, tokens: TokenBatch) {
        let c = config, N = tokens.rowCount, D = c.dim, Q = c.queryDim, KV = c.kvDim, H = c.hiddenDim, a = acts
        let dx = a.dResidual.pointer
        let xb = a.normed.reserve(N * D), rstd = a.rstd.reserve(N), hidden = a.hidden.reserve(N * H)
        let dxb = a.dNormed.reserve(N * D), datt = a.dAttention.reserve(N * Q)
        let dq = a.dq.reserve(N * Q), dk = a.dk.reserve(N * KV), dv = a.dv.reserve(N * KV)
        let dh = a.dHidden.reserve(N * H), du = a.dUp.reserve(N * H)
        let maxT = tokens.sequences.map(\.count).max() ?? 0
        let p = a.scores.reserve(SecondCore.cores * maxT * maxT), dp = a.dScores.reserve(SecondCore.cores * maxT * maxT)

        for l in range.reversed() {
            let b = blocks[l]
            let x = a.residual[l].pointer, mid = a.mid[l].pointer
            let q = a.q[l].pointer, k = a.k[l].pointer, v = a.v[l].pointer
            let (g, u) = a.savedFFN(l, count: N * H), att = a.attention[l].pointer

            // FFN: dx holds ∂L/∂residual[l+1] and flows unchanged to mid through the skip connection.
            b.ffnNorm.withUnsafeBufferPointer { RMSNorm.forward(mid, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb, rstd: rstd) }
            SwiGLU.forward(gate: g, up: u, count: N * H, into: hidden)
            b.down.backward(dx, input: hidden, rows: N, into: dh, accumulate: false)
            SwiGLU.backward(dh, gate: g, up: u, count: N * H, dGate: dh, dUp: du)
            b.gate.backward(dh, input: xb, rows: N, into: dxb, accumulate: false)
            b.up.backward(du, input: xb, rows: N, into: dxb, accumulate: true)
            b.ffnNorm.withUnsafeBufferPointer {
                RMSNorm.backward(dxb, x: mid, weight: $0.baseAddress!, rstd: rstd, rows: N, dim: D, dx: dx)
            }

            // Attention: dx now holds ∂L/∂mid[l]. Biases pass gradients through unchanged (frozen).
            b.attnNorm.withUnsafeBufferPointer { RMSNorm.forward(x, weight: $0.baseAddress!, eps: c.normEps, rows: N, dim: D, into: xb, rstd: rstd) }
            b.o.backward(dx, input: att, rows: N, into: datt, accumulate: false)
            CausalAttention.share(tokens.sequences, kvHeads: c.kvHeadCount, scratchPerCore: maxT * maxT,
                                  cost: { $0.count * $0.count }) { s, g, scratch in
                CausalAttention.backward(
                    dOut: datt + s.offset * Q, outStride: Q, q: q + s.offset * Q, qStride: Q,
                    keys: k + s.offset * KV, values: v + s.offset * KV, kvStride: KV,
                    queries: s.count, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.window(layer: l),
                    groups: g..<g + 1, dq: dq + s.offset * Q, dk: dk + s.offset * KV, dv: dv + s.offset * KV,
                    probabilities: p + scratch, dProbabilities: dp + scratch)
            }
            a.positions.withUnsafeBufferPointer { pos in
                rope.backward(dq, rows: N, heads: c.headCount, stride: Q, positions: pos.baseAddress!)
                rope.backward(dk, rows: N, heads: c.kvHeadCount, stride: KV, positions: pos.baseAddress!)
            }
            b.q.backward(dq, input: xb, rows: N, into: dxb, accumulate: false)
            b.k.backward(dk, input: xb, rows: N, into: dxb, accumulate: true)
            b.v.backward(dv, input: xb, rows: N, into: dxb, accumulate: true)
            b.attnNorm.withUnsafeBufferPointer {
                RMSNorm.backward(dxb, x: x, weight: $0.baseAddress!, rstd: rstd, rows: N, dim: D, dx: dx)
            }
        }
    }
}
