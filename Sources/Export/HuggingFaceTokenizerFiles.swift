import Foundation
import Models

/// tokenizer.json and tokenizer_config.json for a GGUF's `tokenizer.ggml.*` keys, so a folder
/// exported from a GGUF model loads with `AutoTokenizer` and encodes as qaft's own tokenizer of
/// that GGUF does (`BPETokenizer.init(tokens:merges:…)`, which mirrors Hugging Face's conversion).
///
/// Byte-level BPE (`gpt2`) only: tokens and merges are already in Hugging Face's byte alphabet, the
/// pre-tokenizer is the one `tokenizer.ggml.pre` names, and unknown, control and user-defined
/// tokens become added tokens (control ones special), as llama.cpp's converter read them.
/// SentencePiece vocabularies (`llama`) are refused: their merges would have to be rebuilt from scores.
struct HuggingFaceTokenizerFiles {
    let tokenizer: [String: Any]
    let config: [String: Any]
    let bos: Int?
    let eos: Int?

    /// Reads `metadata` (the `tokenizer.*` keys of `file`); `contextLength` is the model's.
    init(_ metadata: [(String, GGUFValue)], file: String, contextLength: Int) throws {
        let keys = Dictionary(metadata, uniquingKeysWith: { _, b in b })
        func invalid(_ key: String, _ reason: String) -> ExportError { .invalidFile(file: file, reason: "\(key): \(reason)") }
        func value<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T? {
            guard let v = keys[key] else { return nil }
            guard let t = get(v) else { throw invalid(key, "expected \(kind)") }
            return t
        }
        func required<T>(_ key: String, _ kind: String, _ get: (GGUFValue) -> T?) throws -> T {
            guard let t = try value(key, kind, get) else { throw invalid(key, "missing (the GPTQ folder needs the tokenizer)") }
            return t
        }
        let model = try required("tokenizer.ggml.model", "a string", \.string)
        guard model == "gpt2" else {
            throw ExportError.unsupportedModel(format: "GPTQ", reason: "\(file): tokenizer.ggml.model '\(model)': only byte-level BPE "
                                               + "('gpt2') vocabularies are written as tokenizer.json "
                                               + "(SentencePiece merges would have to be rebuilt from scores)")
        }
        let preName = try value("tokenizer.ggml.pre", "a string", \.string) ?? "gpt2"
        guard let pre = BPETokenizer.GGUFPreTokenizer(name: preName) else {
            throw invalid("tokenizer.ggml.pre", "pre-tokenizer '\(preName)' has no Hugging Face equivalent known to qaft")
        }
        let tokens = try required("tokenizer.ggml.tokens", "a string array", \.strings)
        let merges = try required("tokenizer.ggml.merges", "a string array", \.strings)
        let types = try value("tokenizer.ggml.token_type", "an integer array", \.ints) ?? [Int](repeating: 1, count: tokens.count)
        guard types.count == tokens.count else { throw invalid("tokenizer.ggml.token_type", "\(types.count) types for \(tokens.count) tokens") }
        func token(_ key: String) throws -> Int? {
            guard let id = try value(key, "an integer", \.int) else { return nil }
            guard tokens.indices.contains(id) else { throw invalid(key, "token id \(id) is outside the vocabulary of \(tokens.count)") }
            return id
        }
        bos = try token("tokenizer.ggml.bos_token_id")
        eos = try token("tokenizer.ggml.eos_token_id")
        let unknown = try token("tokenizer.ggml.unknown_token_id"), padding = try token("tokenizer.ggml.padding_token_id")
        // llama.cpp's default: BOS only for Llama 3's vocabulary.
        let addsBOS = try value("tokenizer.ggml.add_bos_token", "a bool", \.bool) ?? (pre == .llama3)

        var vocabulary: [String: Int] = [:]
        for (id, t) in tokens.enumerated() { vocabulary[t] = id }
        guard vocabulary.count == tokens.count else { throw invalid("tokenizer.ggml.tokens", "holds a token twice; tokenizer.json's vocab cannot") }
        for (rank, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, vocabulary[parts[0]] != nil, vocabulary[parts[1]] != nil, vocabulary[parts[0] + parts[1]] != nil else {
                throw invalid("tokenizer.ggml.merges[\(rank)]", "'\(merge)' is not two vocabulary tokens whose join is one")
            }
        }
        let added: [[String: Any]] = types.indices.filter { [2, 3, 4].contains(types[$0]) }.map {
            ["id": $0, "content": tokens[$0], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": types[$0] == 3]
        }
        let (preTokenizer, ignoreMerges) = pre.huggingFaceJSON
        // ByteLevel only trims offsets; Hugging Face's Llama 3 file runs it before the BOS template.
        let byteLevelPost: [String: Any] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true]
        let postProcessor: [String: Any]
        if addsBOS, let bos {
            let b = tokens[bos]
            func piece(_ kind: String, _ id: String, _ type: Int) -> [String: Any] { [kind: ["id": id, "type_id": type] as [String: Any]] }
            let template: [String: Any] = [
                "type": "TemplateProcessing", "single": [piece("SpecialToken", b, 0), piece("Sequence", "A", 0)],
                "pair": [piece("SpecialToken", b, 0), piece("Sequence", "A", 0), piece("SpecialToken", b, 1), piece("Sequence", "B", 1)],
                "special_tokens": [b: ["id": b, "ids": [bos], "tokens": [b]] as [String: Any]],
            ]
            postProcessor = ["type": "Sequence", "processors": [byteLevelPost, template]]
        } else {
            postProcessor = byteLevelPost
        }
        tokenizer = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": preTokenizer, "post_processor": postProcessor,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true] as [String: Any],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": unknown.map { tokens[$0] as Any } ?? NSNull(),
                      "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": ignoreMerges, "vocab": vocabulary, "merges": merges] as [String: Any],
        ]
        var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": addsBOS, "add_eos_token": false,
                                     "clean_up_tokenization_spaces": false, "model_max_length": contextLength]
        for (name, id) in [("bos_token", bos), ("eos_token", eos), ("unk_token", unknown), ("pad_token", padding)] {
            if let id { config[name] = tokens[id] }
        }
        if let template = try value("tokenizer.chat_template", "a string", \.string) { config["chat_template"] = template }
        self.config = config
    }

    /// Writes tokenizer.json and tokenizer_config.json into `folder`.
    func write(into folder: URL) throws {
        try GPTQFolder.writeJSON(tokenizer, to: folder.appendingPathComponent("tokenizer.json"))
        try GPTQFolder.writeJSON(config, to: folder.appendingPathComponent("tokenizer_config.json"))
    }
}
