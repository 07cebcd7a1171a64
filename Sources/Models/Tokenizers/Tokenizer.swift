/// Text ⇄ token ids. Implementations: `BPETokenizer` (Hugging Face tokenizer.json, GGUF `gpt2` and
/// `llama` metadata) and llama2.c's score-based BPE with byte fallback.
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
    /// The raw bytes a token adds to a text after other tokens (byte-level tokens mapped back to
    /// bytes, byte-fallback tokens to their byte, specials to their text).
    func bytes(of token: Int) -> [UInt8]
    /// The text of `tokens` as the reference tokenizer decodes it; with `skippingSpecial`, special
    /// tokens are left out. The default concatenates `bytes(of:)` and reads it as UTF-8 (invalid
    /// sequences become U+FFFD); SentencePiece-style tokenizers also drop the leading space their
    /// encoding added.
    func decode(_ tokens: [Int], skippingSpecial: Bool) -> String
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
    public func decode(_ tokens: [Int], skippingSpecial: Bool) -> String {
        var out: [UInt8] = []
        for t in tokens where !(skippingSpecial && isSpecial(t)) { out.append(contentsOf: bytes(of: t)) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `decode(tokens, skippingSpecial: false)`.
    public func decode(_ tokens: [Int]) -> String { decode(tokens, skippingSpecial: false) }

    /// BOS and EOS, for vocabularies that mark no other token as special.
    public func isSpecial(_ token: Int) -> Bool { token == bosToken || token == eosToken }
}
