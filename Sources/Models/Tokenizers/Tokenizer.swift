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
}

extension Tokenizer {
    /// Ids for `text`, with BOS first when `addBOS` (default: the format's own setting).
    public func encode(_ text: String, addBOS: Bool) -> [Int] {
        let ids = encode(text)
        if addBOS, let b = bosToken { return [b] + ids }
        return ids
    }

    /// Concatenated bytes of the tokens decoded as UTF-8 (invalid sequences become U+FFFD).
    public func decode(_ tokens: [Int]) -> String {
        var out: [UInt8] = []
        for t in tokens { out.append(contentsOf: bytes(of: t)) }
        return String(decoding: out, as: UTF8.self)
    }
}
