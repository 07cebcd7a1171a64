/// Hugging Face's BPE model (`models::bpe::BPE`): one pre-tokenized word → token ids.
///
/// The word starts as one symbol per character — per byte for byte-level vocabularies, whose
/// tokens are looked up by the bytes they stand for (see `PreTokenizer`). A character the
/// vocabulary lacks becomes its `<0xHH>` byte tokens (`byte_fallback`), else the unknown token
/// (consecutive ones fused into one with `fuse_unk`), else nothing. Then adjacent symbols are
/// merged by the `PairTable`'s priority: merge rank for Hugging Face, piece score for
/// SentencePiece (whose BPE is the same loop over the same initial symbols). With `ignore_merges`
/// a word that is itself a token is that token.
struct BPEModel: Sendable {
    let isByteLevel: Bool
    /// Byte-level: the token of each byte (-1 when the vocabulary lacks that byte's scalar).
    private let byteSymbol: [Int32]
    /// Character-level: the single-character tokens, ASCII ones by code and the rest by scalar.
    private let asciiSymbol: [Int32]
    private let scalarSymbol: [UInt32: Int32]
    /// The `<0xHH>` tokens (-1 when missing); nil without byte fallback.
    private let fallback: [Int32]?
    private let unknown: Int32?
    private let fusesUnknown: Bool
    /// Tokens by the bytes they stand for, for `ignore_merges`.
    private let wholeWords: ByteStringMap<Int32>?
    private let merges: PairTable
    /// Whether words may be merged in pieces cut before each ▁ that follows another character.
    /// SentencePiece-style vocabularies (whose tokens never have ▁ after another character, and
    /// which have ▁ itself) can never merge across such a cut, so merging the pieces separately
    /// gives the same tokens — and turns a text without pre-tokenizer, one long word, into short
    /// ones that the word cache and the merger handle fast.
    private let cutsBeforeMetaspace: Bool

    /// Bytes a byte-level vocabulary has no symbol for (HF drops them unless there is an unknown token).
    var missingBytes: Set<UInt8> {
        isByteLevel ? Set((0..<256).filter { byteSymbol[$0] < 0 }.map(UInt8.init)) : []
    }

    /// `vocabulary` holds the model's tokens (not tokens only added on top) as (text, id); for a
    /// byte-level model the texts are spelled in GPT-2's byte scalars.
    init(vocabulary: [(text: String, id: Int)], byteLevel: Bool, merges: PairTable, byteFallback: Bool,
         unknown: Int?, fuseUnknown: Bool, ignoreMerges: Bool) {
        var byteSymbol = [Int32](repeating: -1, count: 256)
        var asciiSymbol = [Int32](repeating: -1, count: 128)
        var scalarSymbol: [UInt32: Int32] = [:]
        var fallback = [Int32](repeating: -1, count: 256)
        var wholeWords = ByteStringMap<Int32>()
        var hasMetaspace = false, mergesAcrossMetaspace = false
        for (text, id) in vocabulary {
            let scalars = text.unicodeScalars
            if text == "\u{2581}" { hasMetaspace = true }
            if zip(scalars, scalars.dropFirst()).contains(where: { $0 != "\u{2581}" && $1 == "\u{2581}" }) { mergesAcrossMetaspace = true }
            if let b = TokenDecoder.fallbackByte(text), text == "<0x\(Self.hex(b))>" { fallback[Int(b)] = Int32(id) }
            if byteLevel {
                guard scalars.allSatisfy({ ByteMapping.byte(for: $0) != nil }) else { continue }
                let bytes = TokenDecoder.byteLevelBytes(text)
                if bytes.count == 1 { byteSymbol[Int(bytes[0])] = Int32(id) }
                if ignoreMerges { bytes.withUnsafeBufferPointer { wholeWords.set($0, Int32(id)) } }
            } else {
                if scalars.count == 1, let s = scalars.first {
                    if s.isASCII { asciiSymbol[Int(s.value)] = Int32(id) } else { scalarSymbol[s.value] = Int32(id) }
                }
                if ignoreMerges { Array(text.utf8).withUnsafeBufferPointer { wholeWords.set($0, Int32(id)) } }
            }
        }
        isByteLevel = byteLevel
        self.byteSymbol = byteSymbol
        self.asciiSymbol = asciiSymbol
        self.scalarSymbol = scalarSymbol
        self.fallback = byteFallback ? fallback : nil
        self.unknown = unknown.map(Int32.init)
        fusesUnknown = fuseUnknown
        self.wholeWords = ignoreMerges ? wholeWords : nil
        self.merges = merges
        cutsBeforeMetaspace = !byteLevel && hasMetaspace && !mergesAcrossMetaspace
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    /// Buffers and the word cache of one `encode` call: words repeat a lot in real text, so each
    /// distinct short word is merged once per call.
    struct State {
        var symbols: [Int32] = []
        var merger = BPEMerger()
        var cache = ByteStringMap<Range<Int32>>()
        var cachedIDs: [Int32] = []
        /// Longer words are not cached (Hugging Face's limit too): they rarely repeat.
        static let longestCachedWord = 256
    }

    /// Appends the ids of `word` to `ids`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, state: inout State, into ids: inout [Int]) {
        if word.isEmpty { return }
        if let wholeWords, let id = wholeWords.value(for: word) {
            ids.append(Int(id))
            return
        }
        guard cutsBeforeMetaspace else { return merge(word, state: &state, into: &ids) }
        var start = 0
        var i = 1
        while i + 3 <= word.count {
            if word[i] == 0xE2 && word[i + 1] == 0x96 && word[i + 2] == 0x81 {
                if !(i >= 3 && word[i - 3] == 0xE2 && word[i - 2] == 0x96 && word[i - 1] == 0x81) {
                    merge(UnsafeBufferPointer(rebasing: word[start..<i]), state: &state, into: &ids)
                    start = i
                }
                i += 3
            } else {
                i += 1
            }
        }
        merge(UnsafeBufferPointer(rebasing: word[start...]), state: &state, into: &ids)
    }

    /// Appends the ids BPE merges `word` into, through the word cache.
    private func merge(_ word: UnsafeBufferPointer<UInt8>, state: inout State, into ids: inout [Int]) {
        let cached = word.count <= State.longestCachedWord
        if cached, let range = state.cache.value(for: word) {
            for i in range { ids.append(Int(state.cachedIDs[Int(i)])) }
            return
        }
        state.symbols.removeAll(keepingCapacity: true)
        initialSymbols(word, into: &state.symbols)
        state.merger.merge(&state.symbols, pairs: merges)
        for s in state.symbols { ids.append(Int(s)) }
        if cached {
            let start = Int32(state.cachedIDs.count)
            state.cachedIDs.append(contentsOf: state.symbols)
            state.cache.set(word, start..<Int32(state.cachedIDs.count))
        }
    }

    /// One symbol per character (byte), with byte fallback and unknown tokens as in `merge_word`,
    /// including its order: a pending unknown token is only written before the next known
    /// character, so byte-fallback symbols in between come first.
    private func initialSymbols(_ word: UnsafeBufferPointer<UInt8>, into symbols: inout [Int32]) {
        var pendingUnknown = false
        var i = 0
        while i < word.count {
            let symbol: Int32
            let length: Int
            if isByteLevel {
                symbol = byteSymbol[Int(word[i])]
                length = 1
            } else if word[i] < 0x80 {
                symbol = asciiSymbol[Int(word[i])]
                length = 1
            } else {
                let (scalar, n) = TextScalars.scalar(in: word, at: i)
                symbol = scalar.flatMap { scalarSymbol[$0.value] } ?? -1
                length = n
            }
            defer { i += length }
            if symbol >= 0 {
                if pendingUnknown, let unknown { symbols.append(unknown) }
                pendingUnknown = false
                symbols.append(symbol)
                continue
            }
            if let fallback {
                // The character as the vocabulary spells it: for byte-level, the byte's scalar.
                let spelled = isByteLevel ? Array(String(ByteMapping.scalar[Int(word[i])]).utf8) : Array(word[i..<i + length])
                if spelled.allSatisfy({ fallback[Int($0)] >= 0 }) {
                    for b in spelled { symbols.append(fallback[Int(b)]) }
                    continue
                }
            }
            guard let unknown else { continue }
            if pendingUnknown && !fusesUnknown { symbols.append(unknown) }
            pendingUnknown = true
        }
        if pendingUnknown, let unknown { symbols.append(unknown) }
    }
}
