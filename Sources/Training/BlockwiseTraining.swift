import Models
import Tensor

/// Training a range of blocks on its own, from given hidden states to a loss on its output: what
/// block-wise reconstruction PTQ (OmniQuant's learnable clipping) needs. Same layers, activations
/// and backward as the whole-model path; the embedding and the loss head are simply not involved.
extension TrainableLlama {
    /// Runs blocks `range` on `input` (N, D), the hidden states of `tokens`'s packed sequences (whose
    /// token ids only set positions and sequence boundaries here), keeping activations for
    /// `backwardBlocks(_:outputGradient:tokens:)`. Returns the output hidden states (N, D), valid
    /// until the next call on this model. `random` nil means inference behaviour.
    public func forwardBlocks(
        _ range: Range<Int>, input: UnsafePointer<Float>, tokens: TokenBatch, random: SeededRandom?
    ) throws -> UnsafePointer<Float> {
        guard range.lowerBound >= 0, range.upperBound <= blocks.count, !range.isEmpty else {
            throw TrainingError.invalidConfig(field: "blocks", reason: "range \(range) is not inside 0..<\(blocks.count)")
        }
        try validate(tokens)
        let n = tokens.rowCount * config.dim
        acts.residual[range.lowerBound].reserve(n).update(from: input, count: n)
        forwardBlocks(range, tokens: tokens, random: random)
        return UnsafePointer(acts.residual[range.upperBound].pointer)
    }

    /// Backward through blocks `range` of the last `forwardBlocks(_:input:tokens:random:)` with the
    /// same arguments, from ∂L/∂output (N, D). Adds the blocks' parameter gradients to their buffers
    /// and returns ∂L/∂input (N, D), valid until the next call on this model.
    public func backwardBlocks(
        _ range: Range<Int>, outputGradient: UnsafePointer<Float>, tokens: TokenBatch
    ) -> UnsafePointer<Float> {
        let n = tokens.rowCount * config.dim
        acts.dResidual.reserve(n).update(from: outputGradient, count: n)
        backwardBlocks(range, tokens: tokens)
        return UnsafePointer(acts.dResidual.pointer)
    }
}
