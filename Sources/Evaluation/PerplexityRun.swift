import Foundation
import Models

/// One perplexity evaluation: the numbers under lm-eval's metric names and the exact protocol that
/// produced them (perplexities from different conventions differ by integer factors; spec §3).
public struct PerplexityRun: Codable, Equatable, Sendable {
    /// "wikitext" (lm-eval, §3a) or "wikitext2_gptq" (GPTQ/OWQ token perplexity, §3b).
    public let task: String
    /// e.g. "word_perplexity", "byte_perplexity", "bits_per_byte", or "token_perplexity".
    public let metrics: [String: Double]
    public let protocolDescription: String
    /// Documents (pages or windows) scored and the tokens predicted in them.
    public let documents: Int
    public let predictedTokens: Int
    public let config: RunConfig

    enum CodingKeys: String, CodingKey {
        case task, metrics, protocolDescription = "protocol", documents, predictedTokens = "predicted_tokens", config
    }

    /// lm-eval's word/byte perplexity task (§3a).
    public static let lmEvalWikiText = "wikitext"
    /// GPTQ-style WikiText-2 token perplexity (§3b).
    public static let gptqWikiText2 = "wikitext2_gptq"
    /// The task names this type evaluates (beside `TaskRegistry`'s multiple-choice tasks).
    public static let taskNames = [lmEvalWikiText, gptqWikiText2]
}

extension WikiTextDocuments {
    /// lm-eval `wikitext` (§3a): each detokenised page tokenised whole (BOS first when `addBOS`, as
    /// lm-eval's `add_bos_token`), cut into disjoint rolling windows of `maxLength` (the first one
    /// conditioned on the prefix token), scored through `scorer`; corpus word/byte perplexity and
    /// bits per byte over the original pages. `.first(n)` keeps the first n pages.
    public func evaluate(tokenizer: any Tokenizer, addBOS: Bool, scorer: any LogLikelihoodScorer, maxLength: Int,
                         model: String, items: ItemSelection = .all,
                         progress: (Int, Int) -> Void = { _, _ in }) throws -> PerplexityRun {
        let name = PerplexityRun.lmEvalWikiText
        var chosen = pages
        switch items {
        case .all: break
        case .first(let n):
            guard n <= pages.count else { throw EvaluationError.limitTooLarge(task: name, stratum: name, requested: n, available: pages.count) }
            chosen = Array(pages.prefix(n))
        case .subset: throw EvaluationError.selectionNotApplicable(task: name, selection: "a stratified subset")
        }
        guard let prefixToken = tokenizer.bosToken ?? tokenizer.eosToken else {
            throw EvaluationError.noPrefixToken(task: name)
        }
        let tokenized = chosen.map { tokenizer.encode($0.detokenized, addBOS: addBOS) }
        let total = tokenized.reduce(0) { $0 + $1.count }
        var done = 0, logLikelihood = 0.0
        for tokens in tokenized {
            let requests = Self.rollingRequests(tokens: tokens, prefixToken: prefixToken, maxLength: maxLength)
            let results = try scorer.score(requests)
            guard results.count == requests.count else {
                throw EvaluationError.scorerResultCount(expected: requests.count, found: results.count)
            }
            logLikelihood += results.reduce(0) { $0 + $1.logLikelihood }
            done += tokens.count
            progress(done, total)
        }
        let words = Double(chosen.reduce(0) { $0 + $1.words }), bytes = Double(chosen.reduce(0) { $0 + $1.bytes })
        return PerplexityRun(
            task: name,
            metrics: ["word_perplexity": exp(-logLikelihood / words), "byte_perplexity": exp(-logLikelihood / bytes),
                      "bits_per_byte": -logLikelihood / bytes / log(2)],
            protocolDescription: "lm-eval wikitext (wikitext-2-raw-v1 test, document level): loglikelihood_rolling over each "
                + "detokenised page, disjoint windows of max_length \(maxLength), prefix token \(prefixToken), "
                + "BOS \(addBOS ? "prepended" : "not prepended"); word/byte denominators on the original pages "
                + "(\(Int(words)) words, \(Int(bytes)) bytes)",
            documents: chosen.count, predictedTokens: total,
            config: RunConfig(model: model, addBOS: addBOS, items: items))
    }
}

extension TokenPerplexity {
    /// GPTQ-style token perplexity (§3b) with `Llama.windowedNLL` over the ⌊n/seqlen⌋ full windows
    /// (no BOS per window; the tail is dropped). `.first(n)` keeps the first n windows.
    public func evaluate(model: Llama, tokenizer: any Tokenizer, addBOS: Bool, modelName: String, items: ItemSelection = .all,
                         progress: (Int, Int) -> Void = { _, _ in }) throws -> PerplexityRun {
        let name = PerplexityRun.gptqWikiText2
        let tokens = tokenizer.encode(text, addBOS: addBOS)
        var ranges = windows(tokenCount: tokens.count)
        switch items {
        case .all: break
        case .first(let n):
            guard n <= ranges.count else { throw EvaluationError.limitTooLarge(task: name, stratum: name, requested: n, available: ranges.count) }
            ranges = Array(ranges.prefix(n))
        case .subset: throw EvaluationError.selectionNotApplicable(task: name, selection: "a stratified subset")
        }
        guard let last = ranges.last else { throw EvaluationError.corpusTooShort(task: name, tokens: tokens.count, seqlen: seqlen) }
        let r = try model.windowedNLL(Array(tokens[..<last.upperBound]), window: seqlen, progress: progress)
        // GPTQ multiplies each window's mean NLL (over seqlen − 1 predictions) by seqlen and divides
        // the sum by windows · seqlen. Every window here is full, so that is exactly the mean over all
        // predicted tokens: the published quirk cancels.
        precondition(r.predicted == r.windows * (seqlen - 1), "GPTQ windows must all be full")
        return PerplexityRun(
            task: name, metrics: ["token_perplexity": r.perplexity],
            protocolDescription: "\(label): \"\\n\\n\".join(all 4,358 test rows) tokenised once (\(tokens.count) tokens, "
                + "BOS \(addBOS ? "at the start" : "none")), \(r.windows) non-overlapping windows of \(seqlen) tokens with no "
                + "per-window BOS, \(tokens.count - last.upperBound) tail tokens dropped, PPL = exp(Σ nllᵢ / (windows·seqlen))",
            documents: r.windows, predictedTokens: r.predicted,
            config: RunConfig(model: modelName, addBOS: addBOS, items: items))
    }
}
