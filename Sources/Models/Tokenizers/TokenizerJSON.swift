import Foundation

/// What a byte-level BPE needs from a Hugging Face tokenizer.json, in GGUF terms (one token list,
/// merges as "left right", GGUF token types), plus BOS/EOS from the tokenizer_config.json beside it.
///
/// Read: `model` (type BPE: `vocab`, `merges` as "a b" strings or [a, b] pairs),
/// `added_tokens` (special → GGUF type 3, others → type 4; both are matched verbatim in text, as
/// HF does), `pre_tokenizer` (ByteLevel, or a Sequence of Digits(individual_digits) and ByteLevel),
/// `post_processor` (a TemplateProcessing that puts one special token first decides BOS and that
/// it is added). EOS, and BOS when no template adds one, come from tokenizer_config.json's
/// `eos_token`/`bos_token`; without that file they are unknown (nil).
/// Anything that would make ids differ from HF's and that this reader does not implement — a
/// normalizer, BPE dropout, byte fallback, subword prefixes, `ignore_merges` (Llama 3), lstrip/rstrip/single-word added
/// tokens, a template that appends tokens, another pre-tokenizer — is an error naming the field.
struct TokenizerJSON {
    var tokens: [String] = []
    var tokenTypes: [Int] = []
    var merges: [String] = []
    var preTokenizer = ByteLevelBPETokenizer.PreTokenizer.gpt2
    var bosToken: Int?
    var eosToken: Int?
    var addsBOS = false

    private let file: String

    init(contentsOf url: URL) throws {
        file = url.path
        let root = try Self.readObject(url)
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw invalid("normalizer", "normalizers are not supported (found \(typeName(normalizer)))")
        }
        let model = try object(root["model"], "model")
        let type = try string(model["type"], "model.type")
        guard type == "BPE" else { throw invalid("model.type", "unsupported model type '\(type)' (only BPE)") }
        try readBPE(model)
        try readAddedTokens(root["added_tokens"])
        try readPreTokenizer(try object(root["pre_tokenizer"], "pre_tokenizer"))
        if let post = root["post_processor"], !(post is NSNull) {
            try readPostProcessor(try object(post, "post_processor"), "post_processor")
        }
        try readConfig(url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json"))
    }

    private static func readObject(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelFormatError.fileNotFound(file: url.path)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ModelFormatError.corrupt(file: url.path, what: "JSON", offset: 0, reason: "\(error)")
        }
        guard let root = parsed as? [String: Any] else {
            throw ModelFormatError.corrupt(file: url.path, what: "JSON", offset: 0, reason: "the top level is not an object")
        }
        return root
    }

    // MARK: Sections

    private mutating func readBPE(_ model: [String: Any]) throws {
        for field in ["dropout", "continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[field], !(v is NSNull), (v as? String) != "" {
                throw invalid("model.\(field)", "\(v) is not supported (only null)")
            }
        }
        for field in ["byte_fallback", "ignore_merges"] {
            if let v = model[field], try bool(v, "model.\(field)") {
                throw invalid("model.\(field)", "true is not supported (only false)")
            }
        }

        let vocab = try object(model["vocab"], "model.vocab")
        var byID = [String?](repeating: nil, count: vocab.count)
        for (token, value) in vocab {
            let id = try int(value, "model.vocab[\"\(token)\"]")
            guard byID.indices.contains(id), byID[id] == nil else {
                throw invalid("model.vocab[\"\(token)\"]", "id \(id) is repeated or outside 0..<\(vocab.count)")
            }
            byID[id] = token
        }
        tokens = byID.map { $0! }  // n distinct ids in 0..<n: every slot is filled
        tokenTypes = [Int](repeating: 1, count: tokens.count)

        let list = try array(model["merges"], "model.merges")
        merges = try list.enumerated().map { i, m in
            if let s = m as? String { return s }
            if let pair = m as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                return a + " " + b
            }
            throw invalid("model.merges[\(i)]", "expected \"a b\" or [\"a\", \"b\"], found \(typeName(m))")
        }
    }

    private mutating func readAddedTokens(_ value: Any?) throws {
        guard let value, !(value is NSNull) else { return }
        for (i, entry) in try array(value, "added_tokens").enumerated() {
            let field = "added_tokens[\(i)]"
            let t = try object(entry, field)
            let id = try int(t["id"], "\(field).id")
            let content = try string(t["content"], "\(field).content")
            for flag in ["single_word", "lstrip", "rstrip"] {
                if let v = t[flag], try bool(v, "\(field).\(flag)") {
                    throw invalid("\(field).\(flag)", "added tokens with \(flag) are not supported")
                }
            }
            let special = try t["special"].map { try bool($0, "\(field).special") } ?? false
            if id < tokens.count {
                guard tokens[id] == content else {
                    throw invalid("\(field).id", "id \(id) is '\(tokens[id])' in model.vocab, not '\(content)'")
                }
            } else {
                guard id == tokens.count else {
                    throw invalid("\(field).id", "id \(id) leaves a gap after the \(tokens.count) tokens before it")
                }
                tokens.append(content)
                tokenTypes.append(1)
            }
            tokenTypes[id] = special ? 3 : 4
        }
    }

    private mutating func readPreTokenizer(_ p: [String: Any]) throws {
        let type = try string(p["type"], "pre_tokenizer.type")
        switch type {
        case "ByteLevel":
            try checkByteLevel(p, "pre_tokenizer")
            preTokenizer = .gpt2
        case "Sequence":
            let steps = try array(p["pretokenizers"], "pre_tokenizer.pretokenizers")
            let objects = try steps.enumerated().map { try object($1, "pre_tokenizer.pretokenizers[\($0)]") }
            let types = objects.map { $0["type"] as? String ?? "?" }
            switch types {
            case ["ByteLevel"]:
                preTokenizer = .gpt2
            case ["Digits", "ByteLevel"]:
                let digits = try objects[0]["individual_digits"].map {
                    try bool($0, "pre_tokenizer.pretokenizers[0].individual_digits")
                }
                guard digits == true else {
                    throw invalid("pre_tokenizer.pretokenizers[0].individual_digits", "only individual digits are supported")
                }
                preTokenizer = .smollm
            default:
                throw invalid("pre_tokenizer.pretokenizers", "unsupported sequence \(types) (supported: [ByteLevel], [Digits, ByteLevel])")
            }
            try checkByteLevel(objects[objects.count - 1], "pre_tokenizer.pretokenizers[\(objects.count - 1)]")
        default:
            throw invalid("pre_tokenizer.type", "unsupported pre-tokenizer '\(type)' (supported: ByteLevel, Sequence)")
        }
    }

    private func checkByteLevel(_ p: [String: Any], _ field: String) throws {
        if let v = p["add_prefix_space"], try bool(v, "\(field).add_prefix_space") {
            throw invalid("\(field).add_prefix_space", "a prefix space is not supported")
        }
        if let v = p["use_regex"], try !bool(v, "\(field).use_regex") {
            throw invalid("\(field).use_regex", "only the GPT-2 regex split is supported")
        }
    }

    private mutating func readPostProcessor(_ p: [String: Any], _ field: String) throws {
        let type = try string(p["type"], "\(field).type")
        switch type {
        case "ByteLevel":
            return  // only adjusts offsets
        case "Sequence":
            let steps = try array(p["processors"], "\(field).processors")
            for (i, step) in steps.enumerated() {
                try readPostProcessor(try object(step, "\(field).processors[\(i)]"), "\(field).processors[\(i)]")
            }
        case "TemplateProcessing":
            let single = try array(p["single"], "\(field).single")
            let specials = try object(p["special_tokens"], "\(field).special_tokens")
            for (i, piece) in single.enumerated() {
                let pieceField = "\(field).single[\(i)]"
                let entry = try object(piece, pieceField)
                if entry["Sequence"] != nil { continue }
                let special = try object(entry["SpecialToken"], "\(pieceField).SpecialToken")
                guard i == 0 else {
                    throw invalid(pieceField, "only a special token before the sequence (BOS) is supported")
                }
                let name = try string(special["id"], "\(pieceField).SpecialToken.id")
                let spec = try object(specials[name], "\(field).special_tokens[\"\(name)\"]")
                let ids = try array(spec["ids"], "\(field).special_tokens[\"\(name)\"].ids")
                guard ids.count == 1 else {
                    throw invalid("\(field).special_tokens[\"\(name)\"].ids", "expected one id, found \(ids.count)")
                }
                bosToken = try int(ids[0], "\(field).special_tokens[\"\(name)\"].ids[0]")
                addsBOS = true
            }
        default:
            throw invalid("\(field).type", "unsupported post-processor '\(type)' (supported: ByteLevel, TemplateProcessing, Sequence)")
        }
    }

    /// tokenizer_config.json: `bos_token`/`eos_token` as a string or `{"content": ...}`.
    private mutating func readConfig(_ url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let config = try Self.readObject(url)
        let ids = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { $1 })
        func token(_ field: String) throws -> Int? {
            guard let v = config[field], !(v is NSNull) else { return nil }
            let text = try (v as? [String: Any]).map { try string($0["content"], "\(field).content") }
                ?? string(v, field)
            guard let id = ids[text] else {
                throw ModelFormatError.invalidConfig(file: url.path, field: field, reason: "'\(text)' is not a token of \(file)")
            }
            return id
        }
        if bosToken == nil { bosToken = try token("bos_token") }
        eosToken = try token("eos_token")
    }

    // MARK: Typed access with errors naming the field

    private func invalid(_ field: String, _ reason: String) -> ModelFormatError {
        .invalidConfig(file: file, field: field, reason: reason)
    }

    private func typeName(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(v)"
        }
    }

    private func present(_ v: Any?, _ field: String) throws -> Any {
        guard let v, !(v is NSNull) else { throw ModelFormatError.missingField(file: file, field: field) }
        return v
    }

    private func object(_ v: Any?, _ field: String) throws -> [String: Any] {
        let v = try present(v, field)
        guard let o = v as? [String: Any] else { throw invalid(field, "expected an object, found \(typeName(v))") }
        return o
    }

    private func array(_ v: Any?, _ field: String) throws -> [Any] {
        let v = try present(v, field)
        guard let a = v as? [Any] else { throw invalid(field, "expected an array, found \(typeName(v))") }
        return a
    }

    private func string(_ v: Any?, _ field: String) throws -> String {
        let v = try present(v, field)
        guard let s = v as? String else { throw invalid(field, "expected a string, found \(typeName(v))") }
        return s
    }

    private func int(_ v: Any?, _ field: String) throws -> Int {
        let v = try present(v, field)
        // JSON booleans are NSNumbers too; their Objective-C type code is "c".
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c",
              let i = Int(exactly: n.doubleValue), i >= 0 else {
            throw invalid(field, "expected a non-negative integer, found \(typeName(v))")
        }
        return i
    }

    private func bool(_ v: Any, _ field: String) throws -> Bool {
        guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else {
            throw invalid(field, "expected true or false, found \(typeName(v))")
        }
        return n.boolValue
    }
}
