import Foundation

/// A Hugging Face tokenizer.json read into `BPETokenizer.Parts`, plus BOS/EOS from the
/// tokenizer_config.json beside it.
///
/// Read: `model` (type BPE: `vocab`, `merges` as "a b" strings or [a, b] pairs, `unk_token`,
/// `fuse_unk`, `byte_fallback`, `ignore_merges`); `added_tokens` (with `special`, `normalized`,
/// `lstrip`, `rstrip`, `single_word`); `normalizer`, `pre_tokenizer`, `decoder` (the types of
/// `TokenizerJSONComponents`); `post_processor` (ByteLevel, which only moves offsets, and
/// TemplateProcessing whose `single` puts at most one special token — BOS — before the text and
/// none after it, in any Sequence). EOS, and BOS when no template adds one, come from
/// tokenizer_config.json's `eos_token`/`bos_token`; without that file they are unknown (nil).
/// Everything else that would change ids — another model type (Unigram, WordPiece, WordLevel),
/// BPE dropout, subword prefixes or suffixes, other component types, a template appending tokens
/// — is an error naming the file, the field and the value.
struct TokenizerJSON {
    private(set) var parts: BPETokenizer.Parts

    init(contentsOf url: URL) throws {
        let root = try JSONNode.document(url)
        let modelNode = try root.required("model")
        let type = try modelNode.required("type")
        guard try type.string() == "BPE" else { throw type.invalid("unsupported model type \(type.kind) (only BPE)") }

        var tokens = try Self.vocabulary(modelNode.required("vocab"))
        let vocabulary = tokens.enumerated().map { (text: $1, id: $0) }
        let added = try Self.addedTokens(root["added_tokens"], tokens: &tokens)
        let normalizer = try root["normalizer"].map(TokenizerJSONComponents.normalizer)
        let preTokenizer = PreTokenizer(steps: try root["pre_tokenizer"].map(TokenizerJSONComponents.preTokenizer) ?? [])
        let decoder = try root["decoder"].map(TokenizerJSONComponents.decoder)
        let model = try Self.model(modelNode, vocabulary: vocabulary, byteLevel: preTokenizer.isByteLevel)
        var bos = try root["post_processor"].flatMap { try Self.templateBOS($0, tokens: tokens) }
        let addsBOS = bos != nil
        let config = try Self.config(url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json"),
                                     tokens: tokens, tokenizerFile: url.path)
        if bos == nil { bos = config.bos }
        parts = BPETokenizer.Parts(tokens: tokens, addedTokens: added, normalizer: normalizer, preTokenizer: preTokenizer,
                                   model: model, decoder: decoder, bosToken: bos, eosToken: config.eos, addsBOS: addsBOS)
    }

    /// `model.vocab` as texts indexed by id (ids must be 0..<count, each once).
    private static func vocabulary(_ n: JSONNode) throws -> [String] {
        let entries = try n.entries()
        var byID = [String?](repeating: nil, count: entries.count)
        for (token, node) in entries {
            let id = try node.int()
            guard byID.indices.contains(id), byID[id] == nil else {
                throw node.invalid("id \(id) is repeated or outside 0..<\(entries.count)")
            }
            byID[id] = token
        }
        return byID.map { $0! }  // n distinct ids in 0..<n: every slot is filled
    }

    private static func model(_ n: JSONNode, vocabulary: [(text: String, id: Int)], byteLevel: Bool) throws -> BPEModel {
        if let dropout = n["dropout"], try dropout.double() != 0 { throw dropout.invalid("BPE dropout \(dropout.kind) is not supported") }
        for field in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = n[field], try v.string() != "" { throw v.invalid("\(v.kind) is not supported (only null)") }
        }
        var idOf = [String: Int32](minimumCapacity: vocabulary.count)
        for (text, id) in vocabulary { idOf[text] = Int32(id) }
        let unknown = try n["unk_token"].map { node -> Int in
            guard let id = idOf[try node.string()] else { throw node.invalid("\(node.kind) is not in model.vocab") }
            return Int(id)
        }
        let merges = try n.required("merges").array().map { m -> (String, String, JSONNode) in
            if let s = m.value as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw m.invalid("\(m.kind) is not two tokens separated by one space") }
                return (String(parts[0]), String(parts[1]), m)
            }
            let pair = try m.array()
            guard pair.count == 2 else { throw m.invalid("expected \"a b\" or [\"a\", \"b\"], found \(m.kind)") }
            return (try pair[0].string(), try pair[1].string(), m)
        }
        var table = PairTable(capacity: merges.count)
        for (rank, (left, right, node)) in merges.enumerated() {
            guard let a = idOf[left], let b = idOf[right], let ab = idOf[left + right] else {
                let missing = [left, right, left + right].first { idOf[$0] == nil }!
                throw node.invalid("token '\(missing)' of merge '\(left) \(right)' is not in the vocabulary")
            }
            table.set(a, b, priority: UInt32(rank), merged: ab)
        }
        return BPEModel(vocabulary: vocabulary, byteLevel: byteLevel, merges: table,
                        byteFallback: try n["byte_fallback"]?.bool() ?? false, unknown: unknown,
                        fuseUnknown: try n["fuse_unk"]?.bool() ?? false, ignoreMerges: try n["ignore_merges"]?.bool() ?? false)
    }

    /// `added_tokens`; ids past the model's vocabulary extend `tokens` (without gaps).
    private static func addedTokens(_ n: JSONNode?, tokens: inout [String]) throws -> [AddedTokenMatcher.Token] {
        guard let n else { return [] }
        return try n.array().map { t in
            let idNode = try t.required("id")
            let id = try idNode.int()
            let content = try t.required("content").string()
            if id < tokens.count {
                guard tokens[id] == content else { throw idNode.invalid("id \(id) is '\(tokens[id])' in model.vocab, not '\(content)'") }
            } else {
                guard id == tokens.count else { throw idNode.invalid("id \(id) leaves a gap after the \(tokens.count) tokens before it") }
                tokens.append(content)
            }
            func flag(_ key: String, _ absent: Bool = false) throws -> Bool { try t[key]?.bool() ?? absent }
            let special = try flag("special")
            return AddedTokenMatcher.Token(content: content, id: id, special: special, normalized: try flag("normalized", !special),
                                           lstrip: try flag("lstrip"), rstrip: try flag("rstrip"), singleWord: try flag("single_word"))
        }
    }

    /// The token a TemplateProcessing puts before the text for a single sequence, if any.
    private static func templateBOS(_ n: JSONNode, tokens: [String]) throws -> Int? {
        let type = try n.required("type")
        switch try type.string() {
        case "ByteLevel":
            return nil  // only adjusts offsets
        case "Sequence":
            let found = try n.required("processors").array().compactMap { try templateBOS($0, tokens: tokens) }
            guard found.count <= 1 else { throw n.invalid("more than one template adds a token before the text") }
            return found.first
        case "TemplateProcessing":
            let single = try n.required("single").array()
            let specials = try n.required("special_tokens")
            var before: [Int] = []
            var sawSequence = false
            for piece in single {
                if piece["Sequence"] != nil {
                    sawSequence = true
                    continue
                }
                let name = try piece.required("SpecialToken").required("id")
                guard !sawSequence else {
                    throw piece.invalid("a template adding \(name.kind) after the text is not supported (only a BOS before it)")
                }
                let spec = try specials.required(try name.string())
                let ids = try spec.required("ids").array().map { try $0.int() }
                guard ids.count == 1, tokens.indices.contains(ids[0]) else {
                    throw spec.invalid("expected one id of the vocabulary, found \(ids)")
                }
                before.append(ids[0])
            }
            guard before.count <= 1 else { throw n.invalid("a template adding \(before.count) tokens before the text is not supported (only BOS)") }
            return before.first
        default:
            throw type.invalid("unsupported post-processor \(type.kind) (supported: ByteLevel, TemplateProcessing, Sequence)")
        }
    }

    /// tokenizer_config.json's `bos_token`/`eos_token` (a string or `{"content": ...}`), if the file exists.
    private static func config(_ url: URL, tokens: [String], tokenizerFile: String) throws -> (bos: Int?, eos: Int?) {
        guard FileManager.default.fileExists(atPath: url.path) else { return (nil, nil) }
        let config = try JSONNode.document(url)
        let ids = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { $1 })
        func token(_ field: String) throws -> Int? {
            guard let v = config[field] else { return nil }
            let text = try v["content"]?.string() ?? v.string()
            guard let id = ids[text] else { throw v.invalid("'\(text)' is not a token of \(tokenizerFile)") }
            return id
        }
        return (try token("bos_token"), try token("eos_token"))
    }
}
