/// `BPETokenizer`s from GGUF-style vocabulary metadata (`tokenizer.ggml.*`), configured the way
/// Hugging Face's tokenizer.json of the same model is, so both give the same ids:
/// - `gpt2` (byte-level BPE): tokens, merges, token types and the named pre-tokenizer;
/// - `llama` (SentencePiece BPE): pieces merged by score, `<0xHH>` byte fallback, the text
///   prefixed with ▁ and its spaces written ▁ (Hugging Face's "legacy" Llama/Mistral conversion,
///   which is what llama.cpp does), decoded back with the dummy-prefix space dropped.
/// GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. Unknown,
/// control and user-defined tokens are matched verbatim in text (as llama.cpp does when parsing
/// special tokens, and as Hugging Face does with its added tokens); control tokens are special.
extension BPETokenizer {
    /// `tokenizer.ggml.pre` of byte-level vocabularies: how text is split before merging.
    public enum GGUFPreTokenizer: Sendable, CaseIterable {
        /// GPT-2's regex split (`gpt2`, `gpt-2`).
        case gpt2
        /// SmolLM: every digit on its own, then GPT-2's split (`smollm`).
        case smollm
        /// Llama 3's regex (digits in groups of 1–3), whole-word tokens before merges
        /// (`llama-bpe`, `llama3`, `llama-v3`).
        case llama3
        /// Llama 3's regex with single digits (`qwen2`).
        case qwen2

        /// The `tokenizer.ggml.pre` names accepted for each case.
        var acceptedNames: [String] {
            switch self {
            case .gpt2: return ["gpt2", "gpt-2"]
            case .smollm: return ["smollm"]
            case .llama3: return ["llama-bpe", "llama3", "llama-v3"]
            case .qwen2: return ["qwen2"]
            }
        }

        static var names: [String] { allCases.flatMap(\.acceptedNames) }

        /// The pre-tokenizer a `tokenizer.ggml.pre` value names, if supported.
        public init?(name: String) {
            guard let c = Self.allCases.first(where: { $0.acceptedNames.contains(name) }) else { return nil }
            self = c
        }

        /// The `pre_tokenizer` of the tokenizer.json Hugging Face ships for such a vocabulary: the
        /// same split as `steps` in Hugging Face's terms (and whether its BPE model sets `ignore_merges`).
        public var huggingFaceJSON: (preTokenizer: [String: Any], ignoreMerges: Bool) {
            func byteLevel(regex: Bool) -> [String: Any] {
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": regex]
            }
            switch self {
            case .gpt2: return (byteLevel(regex: true), false)
            case .smollm:
                let digits: [String: Any] = ["type": "Digits", "individual_digits": true]
                return (["type": "Sequence", "pretokenizers": [digits, byteLevel(regex: true)]], false)
            case .llama3, .qwen2:
                let split: [String: Any] = ["type": "Split", "pattern": ["Regex": KnownSplitPattern.llama3(maxDigits: self == .llama3 ? 3 : 1).regex],
                                            "behavior": "Isolated", "invert": false]
                return (["type": "Sequence", "pretokenizers": [split, byteLevel(regex: false)]], self == .llama3)
            }
        }

        var steps: [PreTokenizer.Step] {
            switch self {
            case .gpt2: return [.byteLevel(addPrefixSpace: false, useRegex: true)]
            case .smollm: return [.split(.numbers, .isolated, inverted: false), .byteLevel(addPrefixSpace: false, useRegex: true)]
            case .llama3, .qwen2:
                let pattern = KnownSplitPattern.llama3(maxDigits: self == .llama3 ? 3 : 1)
                return [.split(.known(pattern), .isolated, inverted: false), .byteLevel(addPrefixSpace: false, useRegex: false)]
            }
        }
    }

    /// A byte-level tokenizer from GGUF `gpt2` metadata: `tokens` (spelled in GPT-2's byte
    /// scalars, index = id), `merges` ("left right", earlier = applied first) and optional
    /// `tokenTypes`. `source` names the file in errors.
    public init(tokens: [String], merges: [String], tokenTypes: [Int]?, preTokenizer: GGUFPreTokenizer,
                bosToken: Int?, eosToken: Int?, addsBOS: Bool, source: String) throws {
        let types = try Self.checkedTypes(tokens: tokens, types: tokenTypes, bos: bosToken, eos: eosToken, source: source)
        var idOf = [String: Int32](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() { idOf[t] = Int32(i) }  // the last of duplicates, as llama.cpp
        var table = PairTable(capacity: merges.count)
        for (rank, merge) in merges.enumerated() {
            let field = "tokenizer.ggml.merges[\(rank)]"
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw ModelFormatError.invalidConfig(file: source, field: field, reason: "'\(merge)' is not two tokens separated by one space")
            }
            let left = String(parts[0]), right = String(parts[1])
            guard let a = idOf[left], let b = idOf[right], let ab = idOf[left + right] else {
                let missing = [left, right, left + right].first { idOf[$0] == nil }!
                throw ModelFormatError.invalidConfig(file: source, field: field,
                                                     reason: "token '\(missing)' of merge '\(merge)' is not in the vocabulary")
            }
            table.set(a, b, priority: UInt32(rank), merged: ab)
        }
        let model = BPEModel(vocabulary: tokens.enumerated().map { ($1, $0) }, byteLevel: true, merges: table, byteFallback: false,
                             unknown: nil, fuseUnknown: false, ignoreMerges: preTokenizer == .llama3)
        self.init(Parts(tokens: tokens, addedTokens: Self.literalTokens(tokens, types), normalizer: nil,
                        preTokenizer: PreTokenizer(steps: preTokenizer.steps), model: model, decoder: .byteLevel,
                        bosToken: bosToken, eosToken: eosToken, addsBOS: addsBOS))
    }

    /// A SentencePiece BPE tokenizer from GGUF `llama` metadata: `sentencePieces` (▁ for spaces,
    /// `<0xHH>` byte pieces), their `scores` (higher merges first) and optional `tokenTypes`.
    /// `addsSpacePrefix` is SentencePiece's dummy prefix (`add_space_prefix`).
    public init(sentencePieces pieces: [String], scores: [Float], tokenTypes: [Int]?, bosToken: Int?, eosToken: Int?,
                unknownToken: Int?, addsBOS: Bool, addsSpacePrefix: Bool, source: String) throws {
        let types = try Self.checkedTypes(tokens: pieces, types: tokenTypes, bos: bosToken, eos: eosToken, source: source)
        guard scores.count == pieces.count else {
            throw ModelFormatError.invalidConfig(file: source, field: "tokenizer.ggml.scores",
                                                 reason: "\(scores.count) scores for \(pieces.count) tokens")
        }
        if let unknownToken, !pieces.indices.contains(unknownToken) {
            throw ModelFormatError.invalidConfig(file: source, field: "tokenizer.ggml.unknown_token_id",
                                                 reason: "token id \(unknownToken) is outside the vocabulary of \(pieces.count)")
        }
        // SentencePiece merges into, and starts from, normal, user-defined and unused pieces only.
        let mergeable: Set<Int> = [1, 4, 5]
        var idOf = [String: Int32](minimumCapacity: pieces.count)
        for (i, p) in pieces.enumerated() where mergeable.contains(types[i]) && idOf[p] == nil { idOf[p] = Int32(i) }
        let merged = pieces.indices.filter { mergeable.contains(types[$0]) && idOf[pieces[$0]] == Int32($0) }
        var table = PairTable(capacity: merged.reduce(0) { $0 + pieces[$1].unicodeScalars.count })
        for i in merged {
            let piece = pieces[i]
            let priority = PairTable.priority(score: scores[i])
            var cut = piece.unicodeScalars.index(after: piece.unicodeScalars.startIndex)
            while cut < piece.unicodeScalars.endIndex {
                if let a = idOf[String(piece.unicodeScalars[..<cut])], let b = idOf[String(piece.unicodeScalars[cut...])] {
                    table.set(a, b, priority: priority, merged: Int32(i))
                }
                cut = piece.unicodeScalars.index(after: cut)
            }
        }
        let vocabulary = pieces.enumerated().filter { mergeable.contains(types[$0.offset]) || types[$0.offset] == 6 }.map { ($1, $0) }
        let model = BPEModel(vocabulary: vocabulary, byteLevel: false, merges: table, byteFallback: types.contains(6),
                             unknown: unknownToken, fuseUnknown: true, ignoreMerges: false)
        let space: [UInt8] = [0x20], metaspace = Array("\u{2581}".utf8)
        let escape = TextNormalizer.replace(.literal(space), content: metaspace)
        var decoder: [TokenDecoder] = [.replace(.literal(metaspace), content: " "), .byteFallback, .fuse]
        if addsSpacePrefix { decoder.append(.strip(content: " ", start: 1, stop: 0)) }
        self.init(Parts(tokens: pieces, addedTokens: Self.literalTokens(pieces, types),
                        normalizer: addsSpacePrefix ? .sequence([.prepend(metaspace), escape]) : escape,
                        preTokenizer: PreTokenizer(steps: []), model: model, decoder: .sequence(decoder),
                        bosToken: bosToken, eosToken: eosToken, addsBOS: addsBOS))
    }

    /// The token types (all normal when absent), checked against the tokens, with BOS/EOS.
    private static func checkedTypes(tokens: [String], types: [Int]?, bos: Int?, eos: Int?, source: String) throws -> [Int] {
        func invalid(_ field: String, _ reason: String) -> ModelFormatError {
            .invalidConfig(file: source, field: field, reason: reason)
        }
        guard !tokens.isEmpty else { throw invalid("tokenizer.ggml.tokens", "the vocabulary is empty") }
        let types = types ?? [Int](repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw invalid("tokenizer.ggml.token_type", "\(types.count) token types for \(tokens.count) tokens")
        }
        for (field, id) in [("tokenizer.ggml.bos_token_id", bos), ("tokenizer.ggml.eos_token_id", eos)] {
            if let id, !tokens.indices.contains(id) {
                throw invalid(field, "token id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        return types
    }

    /// Unknown, control and user-defined tokens, matched verbatim in the raw text.
    private static func literalTokens(_ tokens: [String], _ types: [Int]) -> [AddedTokenMatcher.Token] {
        types.indices.filter { [2, 3, 4].contains(types[$0]) }.map {
            AddedTokenMatcher.Token(content: tokens[$0], id: $0, special: types[$0] == 3)
        }
    }
}
