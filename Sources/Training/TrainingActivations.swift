import Tensor

/// What the training forward keeps per layer for the backward, and the backward's scratch. Every
/// buffer is reused across steps and only grows when a longer batch than ever before arrives.
///
/// Per layer l (N rows): residual[l] is the block's input (residual[L] feeds the final norm), mid[l]
/// the residual after attention, q/k/v the projections after RoPE, attention the o-projection's
/// input, gate/up the FFN pre-activations — in a bf16 stage rounded to bf16 (gateBF16/upBF16), as
/// autocast keeps a bf16 product's output: both passes then read the rounded values, and the
/// largest saved tensors take half the bytes. The normed inputs, SwiGLU output and attention
/// probabilities are cheap to recompute and are not kept.
final class TrainingActivations {
    let residual: [FloatBuffer]
    let mid: [FloatBuffer], q: [FloatBuffer], k: [FloatBuffer], v: [FloatBuffer]
    let attention: [FloatBuffer], gate: [FloatBuffer], up: [FloatBuffer]
    let gateBF16: [ScratchBuffer<UInt16>], upBF16: [ScratchBuffer<UInt16>]
    /// Whether the last forward kept gate/up in bf16 (it ran in a bf16 stage).
    var ffnInBF16 = false

    // Scratch shared by forward and backward.
    let normed = FloatBuffer(), rstd = FloatBuffer(), hidden = FloatBuffer(), projected = FloatBuffer()
    let scores = FloatBuffer(), dScores = FloatBuffer()
    let dResidual = FloatBuffer(), dNormed = FloatBuffer(), dAttention = FloatBuffer()
    let dq = FloatBuffer(), dk = FloatBuffer(), dv = FloatBuffer(), dHidden = FloatBuffer(), dUp = FloatBuffer()
    let headIn = FloatBuffer(), headNormed = FloatBuffer(), headRstd = FloatBuffer(), logits = FloatBuffer()
    let dHeadNormed = FloatBuffer(), dHeadIn = FloatBuffer(), losses = FloatBuffer()
    let gateFloat = FloatBuffer(), upFloat = FloatBuffer()
    var positions: [Int32] = []

    init(layers: Int) {
        residual = (0...layers).map { _ in FloatBuffer() }
        func perLayer() -> [FloatBuffer] { (0..<layers).map { _ in FloatBuffer() } }
        mid = perLayer(); q = perLayer(); k = perLayer(); v = perLayer()
        attention = perLayer(); gate = perLayer(); up = perLayer()
        gateBF16 = (0..<layers).map { _ in ScratchBuffer<UInt16>() }
        upBF16 = (0..<layers).map { _ in ScratchBuffer<UInt16>() }
    }

    /// Where layer `l`'s forward writes gate/up (`count` values each): their saved buffers, or with
    /// `ffnInBF16` the fp32 scratch that `keepFFN` then rounds into the saved bf16 buffers.
    func ffnOutputs(_ l: Int, count: Int) -> (gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>) {
        ffnInBF16 ? (gateFloat.reserve(count), upFloat.reserve(count)) : (gate[l].reserve(count), up[l].reserve(count))
    }

    /// With `ffnInBF16`, rounds layer `l`'s gate/up (in `ffnOutputs`' scratch) into its saved bf16
    /// buffers and the scratch to the same values, so the forward goes on with what backward reads.
    func keepFFN(_ l: Int, count: Int) {
        guard ffnInBF16 else { return }
        BF16.roundInPlace(gateFloat.pointer, count: count, keeping: gateBF16[l].reserve(count))
        BF16.roundInPlace(upFloat.pointer, count: count, keeping: upBF16[l].reserve(count))
    }

    /// Layer `l`'s saved gate/up as fp32 for the backward: the saved buffers, or their bf16 values
    /// expanded into scratch.
    func savedFFN(_ l: Int, count: Int) -> (gate: UnsafePointer<Float>, up: UnsafePointer<Float>) {
        guard ffnInBF16 else { return (UnsafePointer(gate[l].pointer), UnsafePointer(up[l].pointer)) }
        let g = gateFloat.reserve(count), u = upFloat.reserve(count)
        BF16.expand(gateBF16[l].pointer, count: count, into: g)
        BF16.expand(upBF16[l].pointer, count: count, into: u)
        return (UnsafePointer(g), UnsafePointer(u))
    }

    /// Bytes held by all buffers (saved activations and scratch).
    var bytes: Int {
        let saved = residual + mid + q + k + v + attention + gate + up
        let scratch = [normed, rstd, hidden, projected, scores, dScores, dResidual, dNormed, dAttention, dq, dk, dv,
                       dHidden, dUp, headIn, headNormed, headRstd, logits, dHeadNormed, dHeadIn, losses, gateFloat, upFloat]
        return (saved + scratch).reduce(0) { $0 + $1.capacity } * MemoryLayout<Float>.size
            + (gateBF16 + upBF16).reduce(0) { $0 + $1.capacity } * MemoryLayout<UInt16>.size
    }
}
