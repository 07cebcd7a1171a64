import Foundation

/// Byte-level BPE, the GPT-2 family's tokenizer (SmolLM2, Llama 3, Qwen, ...), read from GGUF
/// metadata (`tokenizer.ggml.model = gpt2`) or a Hugging Face tokenizer.json. Produces the same ids
/// as Hugging Face tokenizers: special tokens found verbatim are cut out first, the rest is split
/// by the pre-tokenizer, and each word is mapped to byte symbols and merged by merge rank.
///
/// Any byte sequence can be encoded (`encode(bytes:)`), valid UTF-8 or not, and `bytes(of:)` over
/// the result gives it back exactly — except bytes the vocabulary has no symbol for
/// (`missingBytes`), which are dropped as Hugging Face drops them. Vocabularies trained with the
/// full byte alphabet have none; SmolLM2's lacks 21 (0xC0, 0xC1, 0xF1, 0xF2, 0xF5–0xFF and the
/// controls 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D), i.e. some control characters and characters of
/// planes 4–11 of the Unicode range.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// How text is split into words before merging; raw values are GGUF `tokenizer.ggml.pre` names.
    public enum PreTokenizer: String, Sendable {
        /// GPT-2's regex split only.
        case gpt2
        /// SmolLM2: every digit on its own, then GPT-2's split.
        case smollm
    }

    public let vocabSize: Int
    public let bosToken: Int?
    public let eosToken: Int?
    public let addsBOSByDefault: Bool
    /// Bytes without a symbol token in the vocabulary; `encode` drops them.
    public let missingBytes: Set<UInt8>

    /// What each token decodes to.
    private let tokenBytes: [[UInt8]]
    /// The single-symbol token of each byte value, the starting point of every word (-1 when missing).
    private let byteToken: [Int32]
    private let merges: PairTable
    private let specials: SpecialTokenMatcher
    /// Control tokens (GGUF type 3, HF `special: true`), left out by `decode(_:skippingSpecial:)`.
    private let controlTokens: Set<Int>
    private let splitter: ByteLevelPreTokenizer
    /// GGUF token types that are matched verbatim in text and decode to their literal text:
    /// 3 = control (e.g. `<|im_start|>`), 4 = user-defined (HF's non-special added tokens).
    static let literalTokenTypes: Set<Int> = [3, 4]

    /// The metadata field names used in error messages, which differ between the two sources.
    struct FieldNames {
        var tokens = "tokenizer.ggml.tokens"
        var merges = "tokenizer.ggml.merges"
        var tokenTypes = "tokenizer.ggml.token_type"
        var bos = "tokenizer.ggml.bos_token_id"
        var eos = "tokenizer.ggml.eos_token_id"
    }

    /// A tokenizer from GGUF-style metadata: `tokens` (byte-level spelled vocabulary, index = id),
    /// `merges` ("left right", earlier = applied first) and optional `tokenTypes` (GGUF token
    /// types; types 3 and 4 are matched verbatim in text). `source` names the file in errors.
    public init(tokens: [String], merges: [String], tokenTypes: [Int]?, preTokenizer: PreTokenizer,
                bosToken: Int?, eosToken: Int?, addsBOS: Bool, source: String) throws {
        try self.init(tokens: tokens, merges: merges, tokenTypes: tokenTypes, preTokenizer: preTokenizer,
                      bosToken: bosToken, eosToken: eosToken, addsBOS: addsBOS, source: source, fields: FieldNames())
    }

    /// A tokenizer from a Hugging Face tokenizer.json (see `TokenizerJSON` for what is read and
    /// what is rejected), with BOS/EOS completed from a tokenizer_config.json beside it.
    public init(tokenizerJSON url: URL) throws {
        let json = try TokenizerJSON(contentsOf: url)
        try self.init(tokens: json.tokens, merges: json.merges, tokenTypes: json.tokenTypes,
                      preTokenizer: json.preTokenizer, bosToken: json.bosToken, eosToken: json.eosToken,
                      addsBOS: json.addsBOS, source: url.path,
                      fields: FieldNames(tokens: "model.vocab", merges: "model.merges",
                                         tokenTypes: "added_tokens", bos: "bos_token", eos: "eos_token"))
    }

    init(tokens: [String], merges mergeList: [String], tokenTypes: [Int]?, preTokenizer: PreTokenizer,
         bosToken: Int?, eosToken: Int?, addsBOS: Bool, source: String, fields: FieldNames) throws {
        func invalid(_ field: String, _ reason: String) -> ModelFormatError {
            .invalidConfig(file: source, field: field, reason: reason)
        }
        guard !tokens.isEmpty else { throw invalid(fields.tokens, "the vocabulary is empty") }
        let types = tokenTypes ?? [Int](repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw invalid(fields.tokenTypes, "\(types.count) token types for \(tokens.count) tokens")
        }
        for (field, id) in [(fields.bos, bosToken), (fields.eos, eosToken)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw invalid(field, "token id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }

        var idOf = [String: Int32](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() { idOf[t] = Int32(i) }

        let byteToken = (0..<256).map { idOf[String(ByteMapping.scalar[$0])] ?? -1 }

        var table = PairTable(capacity: mergeList.count)
        for (rank, merge) in mergeList.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw invalid("\(fields.merges)[\(rank)]", "'\(merge)' is not two tokens separated by one space")
            }
            let left = String(parts[0]), right = String(parts[1])
            guard let a = idOf[left], let b = idOf[right], let ab = idOf[left + right] else {
                let missing = [left, right, left + right].first { idOf[$0] == nil }!
                throw invalid("\(fields.merges)[\(rank)]", "token '\(missing)' of merge '\(merge)' is not in the vocabulary")
            }
            table.set(a, b, priority: UInt32(rank), merged: ab)
        }

        var literal: [(text: String, id: Int)] = []
        var decoded: [[UInt8]] = []
        decoded.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            if Self.literalTokenTypes.contains(types[i]) {
                literal.append((t, i))
                decoded.append(Array(t.utf8))
            } else {
                decoded.append(ByteMapping.bytes(ofVocabularyString: t))
            }
        }

        vocabSize = tokens.count
        self.bosToken = bosToken
        self.eosToken = eosToken
        addsBOSByDefault = addsBOS
        tokenBytes = decoded
        self.byteToken = byteToken
        missingBytes = Set((0..<256).filter { byteToken[$0] < 0 }.map(UInt8.init))
        merges = table
        specials = SpecialTokenMatcher(literal)
        controlTokens = Set(types.indices.filter { types[$0] == 3 })
        splitter = ByteLevelPreTokenizer(splitsDigits: preTokenizer == .smollm)
    }

    public func encode(_ text: String) -> [Int] {
        encode(bytes: Array(text.utf8))
    }

    /// Ids for arbitrary bytes, valid UTF-8 or not; concatenating `bytes(of:)` of the result
    /// gives `bytes` back, less any `missingBytes`. For valid UTF-8 this equals
    /// `encode(String(decoding: bytes, as: UTF8.self))`.
    public func encode(bytes: [UInt8]) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(bytes.count / 3)
        bytes.withUnsafeBufferPointer { text in
            var state = EncodingState()
            specials.split(text, ordinary: { range in
                encodeOrdinary(UnsafeBufferPointer(rebasing: text[range]), state: &state, into: &ids)
            }, special: { ids.append($0) })
        }
        return ids
    }

    /// The raw bytes of `token` (empty for an id outside the vocabulary).
    public func bytes(of token: Int) -> [UInt8] {
        tokenBytes.indices.contains(token) ? tokenBytes[token] : []
    }

    public func isSpecial(_ token: Int) -> Bool { controlTokens.contains(token) || token == bosToken || token == eosToken }

    /// Buffers and the word cache of one `encode` call. Words repeat a lot in real text, so each
    /// distinct word is merged once per call; keys point into the caller's buffer, which outlives
    /// the state.
    private struct EncodingState {
        var scratch = ByteLevelPreTokenizer.Scratch()
        var wordEnds: [Int32] = []
        var symbols: [Int32] = []
        var merger = BPEMerger()
        var cache: [WordKey: Range<Int>] = [:]
        var cachedIDs: [Int32] = []
    }

    private struct WordKey: Hashable {
        let bytes: UnsafeBufferPointer<UInt8>
        func hash(into hasher: inout Hasher) { hasher.combine(bytes: UnsafeRawBufferPointer(bytes)) }
        static func == (a: WordKey, b: WordKey) -> Bool {
            a.bytes.count == b.bytes.count && memcmp(a.bytes.baseAddress!, b.bytes.baseAddress!, a.bytes.count) == 0
        }
    }

    /// Encodes text that holds no special token.
    private func encodeOrdinary(_ text: UnsafeBufferPointer<UInt8>, state: inout EncodingState, into ids: inout [Int]) {
        state.wordEnds.removeAll(keepingCapacity: true)
        splitter.split(text, scratch: &state.scratch, wordEnds: &state.wordEnds)
        var start = 0
        for i in state.wordEnds.indices {
            let end = Int(state.wordEnds[i])
            encodeWord(UnsafeBufferPointer(rebasing: text[start..<end]), state: &state, into: &ids)
            start = end
        }
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, state: inout EncodingState, into ids: inout [Int]) {
        if word.count == 1 {
            let id = byteToken[Int(word[0])]
            if id >= 0 { ids.append(Int(id)) }
            return
        }
        let key = WordKey(bytes: word)
        if let cached = state.cache[key] {
            for i in cached { ids.append(Int(state.cachedIDs[i])) }
            return
        }
        state.symbols.removeAll(keepingCapacity: true)
        for b in word where byteToken[Int(b)] >= 0 { state.symbols.append(byteToken[Int(b)]) }
        state.merger.merge(&state.symbols, pairs: merges)
        let start = state.cachedIDs.count
        state.cachedIDs.append(contentsOf: state.symbols)
        state.cache[key] = start..<state.cachedIDs.count
        for s in state.symbols { ids.append(Int(s)) }
    }
}
