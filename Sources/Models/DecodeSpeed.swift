import Foundation
import Tensor

/// Batch-1 decode speed with the KV cache: the tokens per second a user sees after the prompt (the
/// speed axis of QEFT's and L4Q's Figure 1, measured on this machine). The prompt's prefill is timed
/// on its own and subtracted; both are medians of `repeats` runs after one warm-up run. Decode steps
/// run at `activations` precision (`Generator`'s default, int8, unless asked otherwise).
public enum DecodeSpeed {
    public static func tokensPerSecond(_ model: Llama, prompt: [Int], steps: Int = 64, repeats: Int = 3,
                                       activations: ActivationPrecision = .int8) throws -> Double {
        let total = try Stopwatch.medianSeconds(repeats: repeats) {
            _ = try Generator(model: model, decodeActivations: activations).generate(prompt: prompt, maxNewTokens: steps)
        }
        let prefill = try Stopwatch.medianSeconds(repeats: repeats) {
            _ = try model.forward(TokenBatch(prompt), cache: KVCache(config: model.config, slots: 1, capacity: prompt.count),
                                  logits: .lastOfEachSequence)
        }
        return Double(steps) / max(total - prefill, 1e-9)
    }

    /// Batched decode throughput (L4Q Table 12's question): `batch` sequences, each a copy of
    /// `prompt` with its first token varied, decoded greedily together. Returns generated tokens per
    /// second over the decode steps only: the median of `repeats` runs after a warm-up, all from one
    /// prefill (each run truncates the KV cache back to the prompt). Decode steps of up to
    /// `rowByRowBatch` sequences run each sequence's row on the packed layers' single-row kernel
    /// (float activations, one core: not `Generator`'s split GEMV), larger ones dequantize-then-sgemm.
    public static func throughput(_ model: Llama, batch: Int, prompt: [Int], steps: Int = 16, repeats: Int = 3) throws -> Double {
        precondition(batch > 0 && !prompt.isEmpty && steps > 1, "throughput needs a batch, a prompt and two steps")
        let vocabulary = model.config.vocabSize
        let prompts = (0..<batch).map { b in [(prompt[0] + b) % vocabulary] + prompt.dropFirst() }
        let (cache, first) = try prefill(model, prompts: prompts, steps: steps)
        var seconds: [Double] = []
        for run in 0...repeats {
            for b in 0..<batch { cache.truncate(slot: b, to: prompt.count) }
            let started = Date()
            _ = try model.withDecodeActivations(.float32, rows: rowByRowBatch) {
                try decode(model, from: first, cache: cache, sequences: batch, steps: steps)
            }
            if run > 0 { seconds.append(Date().timeIntervalSince(started)) }
        }
        // The first token of each sequence comes from the prefill's logits: steps − 1 decode forwards.
        return Double(batch * (steps - 1)) / max(seconds.sorted()[seconds.count / 2], 1e-9)
    }

    /// The largest batched decode step that runs row by row: dequantize-then-sgemm costs a whole
    /// dequantization per product and paid only from about 10 rows on SmolLM2 (before this path,
    /// L4Q Table 12's batch 2 decoded at a quarter of batch 1's rate).
    public static let rowByRowBatch = 8

    /// Greedy continuation of every prompt by `steps` tokens, all sequences together: each prompt
    /// prefilled into its own KV-cache slot, then one forward of `prompts.count` rows per step.
    public static func greedyBatch(_ model: Llama, prompts: [[Int]], steps: Int) throws -> [[Int]] {
        let (cache, first) = try prefill(model, prompts: prompts, steps: steps)
        return try decode(model, from: first, cache: cache, sequences: prompts.count, steps: steps)
    }

    /// Each prompt in its own slot of a cache with room for `steps` more tokens; the last logits of each.
    private static func prefill(_ model: Llama, prompts: [[Int]], steps: Int) throws -> (KVCache, Matrix) {
        let cache = KVCache(config: model.config, slots: prompts.count, capacity: (prompts.map(\.count).max() ?? 0) + steps)
        return (cache, try model.forward(TokenBatch(sequences: prompts), cache: cache, logits: .lastOfEachSequence))
    }

    /// `steps` greedy tokens per slot from the prefill's `logits`: one forward of all rows per step.
    private static func decode(_ model: Llama, from logits: Matrix, cache: KVCache, sequences: Int, steps: Int) throws -> [[Int]] {
        let vocabulary = model.config.vocabSize
        var logits = logits
        var produced = [[Int]](repeating: [], count: sequences)
        for step in 0..<steps {
            var batch = TokenBatch()
            for b in 0..<sequences {
                let next = logits.storage.withUnsafeBufferPointer { SIMDMath.argmax($0.baseAddress! + b * vocabulary, vocabulary) }
                produced[b].append(next)
                batch.append([next], slot: b)
            }
            if step + 1 < steps { logits = try model.forward(batch, cache: cache, logits: .lastOfEachSequence) }
        }
        return produced
    }
}
