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
}
