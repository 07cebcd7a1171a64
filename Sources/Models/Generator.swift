import Foundation
import Tensor

/// How the next token is chosen. Temperature 0 is greedy (argmax).
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float
    /// Keep only the k most likely tokens (0 = all).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p (1 = all).
    public var topP: Float
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingOptions()
}

/// Autoregressive decoding with a KV cache: the prompt is prefilled in one batched pass, then each
/// new token costs one single-row forward (matrix–vector products) with the head on that row only.
public final class Generator {
    public let model: Llama
    /// The activation precision of the packed layers' products in the one-token steps. Default
    /// `.int8`: decode is where the integer kernels pay, and nothing compares generated text bit
    /// for bit; the prompt's prefill and every other forward keep float activations.
    public let decodeActivations: ActivationPrecision

    public init(model: Llama, decodeActivations: ActivationPrecision = .int8) {
        self.model = model
        self.decodeActivations = decodeActivations
    }

    /// Continues `prompt` by up to `maxNewTokens` tokens, stopping early at `stop` tokens. `inspect`,
    /// when given, sees each step's logits before the choice; `onToken` sees each new token as it is
    /// produced and may return false to stop.
    public func generate(
        prompt: [Int], maxNewTokens: Int, options: SamplingOptions = .greedy, stop: Set<Int> = [],
        inspect: ((UnsafeBufferPointer<Float>) -> Void)? = nil, onToken: (Int) -> Bool = { _ in true }
    ) throws -> [Int] {
        precondition(!prompt.isEmpty, "generation needs at least one prompt token")
        let cache = KVCache(config: model.config, slots: 1, capacity: Swift.min(prompt.count + maxNewTokens, model.rope.maxPositions))
        var rng = SeededRandom(seed: options.seed)
        var logits = try model.forward(TokenBatch(prompt), cache: cache, logits: .lastOfEachSequence)
        var produced: [Int] = []
        // One-token steps are chains of small products: run them at `decodeActivations` and split
        // them over the cores ourselves.
        try model.withDecodeActivations(decodeActivations) {
            try SecondCore.shared.splitting {
                while produced.count < maxNewTokens {
                    let next = logits.storage.withUnsafeMutableBufferPointer { row -> Int in
                        inspect?(UnsafeBufferPointer(row))
                        return Self.choose(row, options, &rng)
                    }
                    produced.append(next)
                    if stop.contains(next) || !onToken(next) { break }
                    if produced.count == maxNewTokens || cache.lengths[0] >= cache.capacity { break }
                    logits = try model.forward(TokenBatch([next]), cache: cache, logits: .lastOfEachSequence)
                }
            }
        }
        return produced
    }

    /// Picks a token from one row of logits (overwritten: they are the forward's scratch).
    /// Without a top-k or top-p cut the softmax is sampled in vocabulary order, with no sort.
    static func choose(_ logits: UnsafeMutableBufferPointer<Float>, _ o: SamplingOptions, _ rng: inout SeededRandom) -> Int {
        let n = logits.count, x = logits.baseAddress!
        if o.temperature <= 0 { return SIMDMath.argmax(x, n) }
        if o.topK <= 0 && o.topP >= 1 {
            SIMDMath.scale(x, n, by: 1 / o.temperature)
            let total = SIMDMath.expShiftedInPlace(x, n, shift: SIMDMath.max(x, n))
            var u = rng.nextUnitFloat() * total
            for i in 0..<n {
                u -= x[i]
                if u <= 0 { return i }
            }
            return SIMDMath.argmax(x, n)
        }
        var order = Array(0..<n)
        order.sort { logits[$0] > logits[$1] }
        if o.topK > 0 { order.removeLast(Swift.max(0, order.count - o.topK)) }
        let m = logits[order[0]]
        var probs = order.map { Foundation.exp(Double((logits[$0] - m) / o.temperature)) }
        let total = probs.reduce(0, +)
        var kept = 0, mass = 0.0
        while kept < probs.count {
            probs[kept] /= total
            mass += probs[kept]
            kept += 1
            if mass >= Double(o.topP) { break }
        }
        var u = Double(rng.nextUnitFloat()) * mass
        for i in 0..<kept {
            u -= probs[i]
            if u <= 0 { return order[i] }
        }
        return order[kept - 1]
    }
}
