import Foundation

/// A BPE tokenizer with the semantics of Hugging Face `tokenizers` — the reference users compare
/// ids against — read from a tokenizer.json (`init(tokenizerJSON:)`, see `TokenizerJSON` for what
/// is supported) or from GGUF metadata (`GGUFFile.tokenizer()`: `gpt2` byte-level BPE, `llama`
/// SentencePiece BPE). Encoding runs HF's pipeline:
/// 1. added tokens spelled out in the text (non-normalized ones) are cut out;
/// 2. each stretch between them is normalized, and normalized added tokens are cut out of it;
/// 3. the pre-tokenizer splits what is left into words;
/// 4. the BPE model turns each word into ids.
/// `addsBOSByDefault`/`bosToken` follow the post-processor as HF applies it by default
/// (`add_special_tokens=True`): a template that puts one special token before the text.
///
/// Any byte sequence can be encoded (`encode(bytes:)`), UTF-8 or not. Byte-level vocabularies give
/// the bytes back exactly, except bytes they have no symbol for (`missingBytes`), which are dropped
/// as HF drops them; SentencePiece-style vocabularies with byte fallback spell an invalid byte
/// as its `<0xHH>` token. HF itself only takes text: its ids for such input are those of the text
/// decoded with U+FFFD replacements (what `encode(_:)` on `String(decoding:as:)` gives).
public struct BPETokenizer: Tokenizer {
    public let vocabSize: Int
    public let bosToken: Int?
    public let eosToken: Int?
    public let addsBOSByDefault: Bool

    /// Every id's text as the vocabulary spells it (what the decoder chain starts from).
    private let tokenTexts: [String]
    private let specialTokens: Set<Int>
    private let rawAddedTokens: AddedTokenMatcher
    private let normalizedAddedTokens: AddedTokenMatcher
    private let normalizer: TextNormalizer?
    private let preTokenizer: PreTokenizer
    private let model: BPEModel
    /// Without one, HF joins the token texts with spaces.
    private let decoder: TokenDecoder?

    /// Bytes without a symbol token in a byte-level vocabulary; `encode` drops them.
    public var missingBytes: Set<UInt8> { model.missingBytes }

    /// Everything a tokenizer file provides, in HF's terms.
    struct Parts {
        /// Every id's text; index = id.
        var tokens: [String]
        var addedTokens: [AddedTokenMatcher.Token]
        var normalizer: TextNormalizer?
        var preTokenizer: PreTokenizer
        var model: BPEModel
        var decoder: TokenDecoder?
        var bosToken: Int?
        var eosToken: Int?
        var addsBOS: Bool
    }

    init(_ parts: Parts) {
        vocabSize = parts.tokens.count
        // HF gives a normalized added token the text of its normalized content.
        var texts = parts.tokens
        for t in parts.addedTokens where t.normalized {
            if let normalizer = parts.normalizer { texts[t.id] = String(decoding: normalizer.normalize(Array(t.content.utf8)), as: UTF8.self) }
        }
        tokenTexts = texts
        bosToken = parts.bosToken
        eosToken = parts.eosToken
        addsBOSByDefault = parts.addsBOS
        specialTokens = Set(parts.addedTokens.filter(\.special).map(\.id))
        rawAddedTokens = AddedTokenMatcher(parts.addedTokens.filter { !$0.normalized })
        let normalizer = parts.normalizer
        normalizedAddedTokens = AddedTokenMatcher(parts.addedTokens.filter(\.normalized)) {
            normalizer?.normalize(Array($0.content.utf8)) ?? Array($0.content.utf8)
        }
        self.normalizer = normalizer
        preTokenizer = parts.preTokenizer
        model = parts.model
        decoder = parts.decoder
    }

    /// A tokenizer from a Hugging Face tokenizer.json (see `TokenizerJSON` for what is read and
    /// what is rejected), with BOS/EOS completed from a tokenizer_config.json beside it.
    public init(tokenizerJSON url: URL) throws {
        self.init(try TokenizerJSON(contentsOf: url).parts)
    }

    public func encode(_ text: String) -> [Int] {
        encode(bytes: Array(text.utf8))
    }

    /// Ids for arbitrary bytes, valid UTF-8 or not (see the type's documentation). For valid
    /// UTF-8 this equals `encode(String(decoding: bytes, as: UTF8.self))`.
    public func encode(bytes: [UInt8]) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(bytes.count / 3)
        var state = EncodingState()
        bytes.withUnsafeBufferPointer { text in
            rawAddedTokens.split(text, ordinary: { range in
                let stretch = UnsafeBufferPointer(rebasing: text[range])
                if let normalizer {
                    normalizer.normalize(Array(stretch)).withUnsafeBufferPointer {
                        encodeNormalized($0, startsText: range.lowerBound == 0, state: &state, into: &ids)
                    }
                } else {
                    encodeNormalized(stretch, startsText: range.lowerBound == 0, state: &state, into: &ids)
                }
            }, token: { ids.append($0) })
        }
        return ids
    }

    /// Reusable buffers of one `encode` call.
    private struct EncodingState {
        var pieces = PreTokenizer.Pieces()
        var model = BPEModel.State()
    }

    /// Encodes a normalized stretch between raw added tokens; `startsText` tells whether it
    /// starts the whole input.
    private func encodeNormalized(_ text: UnsafeBufferPointer<UInt8>, startsText: Bool, state: inout EncodingState,
                                  into ids: inout [Int]) {
        normalizedAddedTokens.split(text, ordinary: { range in
            preTokenizer.split(UnsafeBufferPointer(rebasing: text[range]), startsText: startsText && range.lowerBound == 0,
                               into: &state.pieces)
            let pieces = state.pieces
            pieces.arena.withUnsafeBufferPointer { arena in
                for i in 0..<pieces.count {
                    model.encode(UnsafeBufferPointer(rebasing: arena[Int(pieces.starts[i])..<Int(pieces.ends[i])]),
                                 state: &state.model, into: &ids)
                }
            }
        }, token: { ids.append($0) })
    }

    /// The text of `tokens` as HF's `decode` gives it: the token texts through the decoder chain
    /// (joined by spaces without a decoder); with `skippingSpecial`, special tokens are left out.
    public func decode(_ tokens: [Int], skippingSpecial: Bool) -> String {
        let texts = tokens.compactMap { id -> String? in
            tokenTexts.indices.contains(id) && !(skippingSpecial && isSpecial(id)) ? tokenTexts[id] : nil
        }
        guard let decoder else { return texts.joined(separator: " ") }
        return decoder.decode(texts)
    }

    /// The bytes `token` adds to a text after other tokens (`TokenDecoder.continuationBytes`): for
    /// SentencePiece vocabularies a word-initial token starts with its space, which `decode` drops
    /// at the start of a text, so concatenating these differs from `decode` there; empty for an id
    /// outside the vocabulary.
    public func bytes(of token: Int) -> [UInt8] {
        guard tokenTexts.indices.contains(token) else { return [] }
        return decoder?.continuationBytes(tokenTexts[token]) ?? Array(tokenTexts[token].utf8)
    }

    /// Added tokens marked special (GGUF control tokens), BOS and EOS.
    public func isSpecial(_ token: Int) -> Bool { specialTokens.contains(token) || token == bosToken || token == eosToken }
}
