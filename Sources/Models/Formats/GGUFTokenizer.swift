/// Reading the tokenizer stored in a GGUF's `tokenizer.ggml.*` metadata.
extension GGUFFile {
    /// The byte-level BPE tokenizer stored in `tokenizer.ggml.*` (only the `gpt2` model is supported).
    public func byteLevelBPETokenizer() throws -> ByteLevelBPETokenizer {
        let model = try required("tokenizer.ggml.model", "string", \.string)
        guard model == "gpt2" else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.model",
                                                 reason: "tokenizer model '\(model)' is not supported (only byte-level BPE, 'gpt2')")
        }
        let preName = try optional("tokenizer.ggml.pre", "string", \.string) ?? "gpt2"
        guard let pre = ByteLevelBPETokenizer.PreTokenizer(rawValue: preName) else {
            throw ModelFormatError.invalidConfig(file: url.path, field: "tokenizer.ggml.pre",
                                                 reason: "pre-tokenizer '\(preName)' is not supported")
        }
        return try ByteLevelBPETokenizer(
            tokens: try required("tokenizer.ggml.tokens", "string array", \.strings),
            merges: try required("tokenizer.ggml.merges", "string array", \.strings),
            tokenTypes: try optional("tokenizer.ggml.token_type", "integer array", \.ints),
            preTokenizer: pre,
            bosToken: try optional("tokenizer.ggml.bos_token_id", "integer", \.int),
            eosToken: try optional("tokenizer.ggml.eos_token_id", "integer", \.int),
            addsBOS: try optional("tokenizer.ggml.add_bos_token", "bool", \.bool) ?? false,
            source: url.path)
    }
}
