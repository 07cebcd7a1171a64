import Foundation
import Models

/// llama.cpp's `llama-perplexity` protocol (tools/perplexity/perplexity.cpp, its default mode), so a
/// model qaft exports can be scored by both programs on the same tokens: the text is tokenised
/// once (BOS first when the vocabulary adds one), cut into ⌊n / context⌋ chunks of `context`
/// tokens (the tail is dropped), each chunk's first token replaced by BOS when the vocabulary adds
/// one, and only each chunk's second half is scored — the context − 1 − context/2 tokens after
/// position context/2, each predicted from everything before it in its chunk, so every scored
/// token has at least half a window of context. PPL = exp(mean NLL over the scored tokens).
public struct LlamaCppPerplexity: Sendable, Equatable {
    /// llama-perplexity's `-c` (n_ctx): tokens per chunk.
    public let context: Int

    public init(context: Int) {
        precondition(context >= 4, "a chunk of \(context) tokens has no second half to score")
        self.context = context
    }

    /// The first scored logit of a chunk (llama.cpp's `first = n_ctx / 2`).
    public var first: Int { context / 2 }

    /// Tokens scored per chunk.
    public var scoredPerChunk: Int { context - 1 - first }

    /// The chunks of a text of `tokenCount` tokens (llama.cpp needs at least two).
    public func chunks(tokenCount: Int) -> Int { tokenCount / context }

    /// One line for reports: what was scored, so it is not mistaken for another convention.
    public func describe(chunks: Int, bos: Int?) -> String {
        "llama.cpp llama-perplexity protocol: \(chunks) chunks of \(context) tokens, the last \(scoredPerChunk) tokens of each "
            + "scored (first half is context), " + (bos.map { "BOS \($0) in place of each chunk's first token" } ?? "no BOS")
    }

    /// Scores `tokens` (the whole text, tokenised with the vocabulary's default BOS) with `model`;
    /// `bos`: the token replacing each chunk's first, nil when the vocabulary adds none.
    /// Throws `EvaluationError.corpusTooShort` below two chunks, as llama-perplexity refuses them.
    public func evaluate(model: Llama, tokens: [Int], bos: Int?, progress: (Int, Int) -> Void = { _, _ in }) throws -> WindowedNLL {
        let n = chunks(tokenCount: tokens.count)
        guard n >= 2 else {
            throw EvaluationError.corpusTooShort(task: "llama.cpp perplexity (two chunks of \(context))", tokens: tokens.count, seqlen: 2 * context)
        }
        var result = WindowedNLL(totalNLL: 0, predicted: 0, windows: 0)
        for c in 0..<n {
            var chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            if let bos { chunk[0] = bos }
            // Element t predicts chunk[t + 1]: the scored tokens first + 1 … context − 1.
            let lp = try model.nextTokenLogProbabilities([chunk])[0][first...]
            result.totalNLL -= lp.reduce(0.0) { $0 + Double($1) }
            result.predicted += lp.count
            result.windows += 1
            progress(c + 1, n)
        }
        return result
    }
}
