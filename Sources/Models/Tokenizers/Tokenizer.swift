/// Text ⇄ token ids. Implementations: byte-level BPE (GGUF `gpt2` metadata or tokenizer.json) and
/// llama2.c's score-based BPE with byte fallback.
public protocol Tokenizer: Sendable {
    var vocabSize: Int { get }
    /// Beginning-of-sequence id, if the vocabulary has one.
    var bosToken: Int? { get }
    /// End-of-sequence id (generation stops here).
    var eosToken: Int? { get }
    /// Whether the model expects BOS in front of every encoded text (the format's own setting).
    var addsBOSByDefault: Bool { get }

    /// Token ids for `text`, without BOS. Special tokens spelled out in the text (e.g. `<|im_start|>`)
    /// map to their ids, as the reference tokenizers do.
    func encode(_ text: String) -> [Int]
    /// The raw bytes a token stands for (byte-level tokens mapped back to bytes; specials to their text).
    func bytes(of token: Int) -> [UInt8]
    /// Whether `token` is a special (control) token — BOS, EOS, chat markers — that
    /// `decode(_:skippingSpecial:)` drops, as Hugging Face's `skip_special_tokens=True` does.
    func isSpecial(_ token: Int) -> Bool
}

extension Tokenizer {
    /// Ids for `text`, with BOS first when `addBOS` (default: the format's own setting).
    public func encode(_ text: String, addBOS: Bool) -> [Int] {
        let ids = encode(text)
        if addBOS, let b = bosToken { return [b] + ids }
        return ids
    }

    /// Concatenated bytes of the tokens decoded as UTF-8 (invalid sequences become U+FFFD); with
    /// `skippingSpecial`, special tokens are left out.
    public func decode(_ tokens: [Int], skippingSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        for t in tokens where !(skippingSpecial && isSpecial(t)) { out.append(contentsOf: bytes(of: t)) }
        return String(decoding: out, as: UTF8.self)
    }

    /// BOS and EOS, for vocabularies that mark no other token as special.
    public func isSpecial(_ token: Int) -> Bool { token == bosToken || token == eosToken }
}
