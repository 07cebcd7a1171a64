/// Reading the tokenizer stored in a GGUF's `tokenizer.ggml.*` metadata, as llama.cpp's converter
/// writes it, into a `BPETokenizer` that gives Hugging Face's ids for the same vocabulary.
extension GGUFFile {
    /// The tokenizer of `tokenizer.ggml.model`: `gpt2` (byte-level BPE) or `llama` (SentencePiece BPE).
    public func tokenizer() throws -> BPETokenizer {
        let model = try required("tokenizer.ggml.model", "string", \.string)
        switch model {
        case "gpt2": return try byteLevelBPETokenizer()
        case "llama": return try sentencePieceTokenizer()
        default:
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.model",
                                                 reason: "tokenizer model '\(model)' is not supported (only 'gpt2' and 'llama')")
        }
    }

    /// The byte-level BPE tokenizer stored in `tokenizer.ggml.*` (model `gpt2`): tokens, merges,
    /// token types, `pre` (see `BPETokenizer.GGUFPreTokenizer`), BOS/EOS and `add_bos_token`
    /// (default: on for the Llama 3 pre-tokenizer, off otherwise, as in llama.cpp).
    public func byteLevelBPETokenizer() throws -> BPETokenizer {
        let model = try required("tokenizer.ggml.model", "string", \.string)
        guard model == "gpt2" else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.model",
                                                 reason: "tokenizer model '\(model)' is not byte-level BPE ('gpt2')")
        }
        let preName = try optional("tokenizer.ggml.pre", "string", \.string) ?? "gpt2"
        guard let pre = BPETokenizer.GGUFPreTokenizer(name: preName) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.pre",
                                                 reason: "pre-tokenizer '\(preName)' is not supported (supported: "
                                                     + BPETokenizer.GGUFPreTokenizer.names.joined(separator: ", ") + ")")
        }
        return try BPETokenizer(
            tokens: try required("tokenizer.ggml.tokens", "string array", \.strings),
            merges: try required("tokenizer.ggml.merges", "string array", \.strings),
            tokenTypes: try optional("tokenizer.ggml.token_type", "integer array", \.ints),
            preTokenizer: pre,
            bosToken: try optional("tokenizer.ggml.bos_token_id", "integer", \.int),
            eosToken: try optional("tokenizer.ggml.eos_token_id", "integer", \.int),
            addsBOS: try optional("tokenizer.ggml.add_bos_token", "bool", \.bool) ?? (pre == .llama3),
            source: url.path)
    }

    /// The SentencePiece BPE tokenizer stored in `tokenizer.ggml.*` (model `llama`): pieces,
    /// scores, token types, BOS/EOS/UNK ids (default 1, 2, 0), `add_bos_token` (default on) and
    /// `add_space_prefix` (default on).
    public func sentencePieceTokenizer() throws -> BPETokenizer {
        let model = try required("tokenizer.ggml.model", "string", \.string)
        guard model == "llama" else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.model",
                                                 reason: "tokenizer model '\(model)' is not SentencePiece BPE ('llama')")
        }
        let scores = try required("tokenizer.ggml.scores", "float array") { v in
            v.array.flatMap { a in
                let d = a.compactMap(\.double)
                return d.count == a.count ? d.map(Float.init) : nil
            }
        }
        return try BPETokenizer(
            sentencePieces: try required("tokenizer.ggml.tokens", "string array", \.strings),
            scores: scores,
            tokenTypes: try optional("tokenizer.ggml.token_type", "integer array", \.ints),
            bosToken: try optional("tokenizer.ggml.bos_token_id", "integer", \.int) ?? 1,
            eosToken: try optional("tokenizer.ggml.eos_token_id", "integer", \.int) ?? 2,
            unknownToken: try optional("tokenizer.ggml.unknown_token_id", "integer", \.int) ?? 0,
            addsBOS: try optional("tokenizer.ggml.add_bos_token", "bool", \.bool) ?? true,
            addsSpacePrefix: try optional("tokenizer.ggml.add_space_prefix", "bool", \.bool) ?? true,
            source: url.path)
    }
}
