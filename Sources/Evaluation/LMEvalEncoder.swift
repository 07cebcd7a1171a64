import Models

/// Turns a (context, continuation) string pair into token ids exactly as lm-eval's `_encode_pair`
/// and `loglikelihood` do for causal models:
/// 1. trailing whitespace of the context moves to the front of the continuation;
/// 2. whole = encode(context + continuation), ctx = encode(context);
/// 3. the continuation tokens are whole[ctx.count...], so tokens merging across the boundary count
///    as continuation — and the context ids are encode(context) itself, not a prefix of whole;
/// 4. an empty context becomes the single prefix token (BOS, else EOS).
/// `addBOS` plays lm-eval's `add_special_tokens`: BOS leads both encodings, so the split is the same.
public struct LMEvalEncoder: Sendable {
    public let tokenizer: any Tokenizer
    public let addBOS: Bool

    public init(tokenizer: any Tokenizer, addBOS: Bool) {
        self.tokenizer = tokenizer
        self.addBOS = addBOS
    }

    /// Encodes one document's requests; each distinct context string is tokenised once.
    public func encode(document requests: [TextRequest]) -> [LogLikelihoodRequest] {
        var contextIDs: [String: [Int]] = [:]
        return requests.map { encode($0, contextIDs: &contextIDs) }
    }

    public func encode(_ request: TextRequest) -> LogLikelihoodRequest {
        var cache: [String: [Int]] = [:]
        return encode(request, contextIDs: &cache)
    }

    private func encode(_ request: TextRequest, contextIDs cache: inout [String: [Int]]) -> LogLikelihoodRequest {
        var context = Substring(request.context).unicodeScalars
        var continuation = request.continuation
        if let last = context.lastIndex(where: { !PythonText.isSpace($0) }) {
            let cut = context.index(after: last)
            continuation = String(Substring(context[cut...])) + continuation
            context = context[..<cut]
        } else if !context.isEmpty {
            // An all-whitespace context rstrips to "", which lm-eval then encodes as "" (no prefix
            // token: the empty-context branch only sees the original, non-empty string).
            continuation = String(Substring(context)) + continuation
            context = context[context.endIndex...]
        } else {
            let cont = tokenizer.encode(continuation)
            guard let prefix = tokenizer.bosToken ?? tokenizer.eosToken else {
                return LogLikelihoodRequest(context: [], continuation: cont)
            }
            // lm-eval: if the continuation already starts with the prefix token, that token is the context.
            if cont.first == prefix { return LogLikelihoodRequest(context: [prefix], continuation: Array(cont.dropFirst())) }
            return LogLikelihoodRequest(context: [prefix], continuation: cont)
        }
        let contextText = String(Substring(context))
        let contextIDs = cache[contextText] ?? tokenizer.encode(contextText, addBOS: addBOS)
        cache[contextText] = contextIDs
        let whole = tokenizer.encode(contextText + continuation, addBOS: addBOS)
        return LogLikelihoodRequest(context: contextIDs, continuation: Array(whole.dropFirst(min(contextIDs.count, whole.count))))
    }
}
