import Tensor

/// What the training forward keeps per layer for the backward, and the backward's scratch. Every
/// buffer is reused across steps and only grows when a longer batch than ever before arrives.
///
/// Per layer l (N rows): residual[l] is the block's input (residual[L] feeds the final norm), mid[l]
/// the residual after attention, q/k/v the projections after RoPE, attention the o-projection's
/// input, gate/up the FFN pre-activations. The normed inputs, SwiGLU output and attention
/// probabilities are cheap to recompute and are not kept.
final class TrainingActivations {
    let residual: [FloatBuffer]
    let mid: [FloatBuffer], q: [FloatBuffer], k: [FloatBuffer], v: [FloatBuffer]
    let attention: [FloatBuffer], gate: [FloatBuffer], up: [FloatBuffer]

    // Scratch shared by forward and backward.
    let normed = FloatBuffer(), rstd = FloatBuffer(), hidden = FloatBuffer(), projected = FloatBuffer()
    let scores = FloatBuffer(), dScores = FloatBuffer()
    let dResidual = FloatBuffer(), dNormed = FloatBuffer(), dAttention = FloatBuffer()
    let dq = FloatBuffer(), dk = FloatBuffer(), dv = FloatBuffer(), dHidden = FloatBuffer(), dUp = FloatBuffer()
    let headIn = FloatBuffer(), headNormed = FloatBuffer(), headRstd = FloatBuffer(), logits = FloatBuffer()
    let dHeadNormed = FloatBuffer(), dHeadIn = FloatBuffer(), losses = FloatBuffer()
    var positions: [Int32] = []

    init(layers: Int) {
        residual = (0...layers).map { _ in FloatBuffer() }
        func perLayer() -> [FloatBuffer] { (0..<layers).map { _ in FloatBuffer() } }
        mid = perLayer(); q = perLayer(); k = perLayer(); v = perLayer()
        attention = perLayer(); gate = perLayer(); up = perLayer()
    }

    /// Bytes held by all buffers (saved activations and scratch).
    var bytes: Int {
        let saved = residual + mid + q + k + v + attention + gate + up
        let scratch = [normed, rstd, hidden, projected, scores, dScores, dResidual, dNormed, dAttention, dq, dk, dv,
                       dHidden, dUp, headIn, headNormed, headRstd, logits, dHeadNormed, dHeadIn, losses]
        return (saved + scratch).reduce(0) { $0 + $1.capacity } * MemoryLayout<Float>.size
    }
}
