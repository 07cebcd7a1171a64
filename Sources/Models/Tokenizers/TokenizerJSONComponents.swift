/// Reading tokenizer.json's normalizer, pre-tokenizer and decoder sections. Each supported type
/// is read with Hugging Face's defaults for absent fields; any other type, or a value this
/// implementation cannot reproduce, is an error naming the field and the value.
enum TokenizerJSONComponents {
    static let normalizerTypes = ["Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD"]
    static let preTokenizerTypes = ["Sequence", "Split", "Digits", "Metaspace", "ByteLevel"]
    static let decoderTypes = ["Sequence", "ByteLevel", "ByteFallback", "Replace", "Fuse", "Strip", "Metaspace"]

    static func normalizer(_ n: JSONNode) throws -> TextNormalizer {
        let type = try n.required("type")
        switch try type.string() {
        case "Sequence": return .sequence(try n.required("normalizers").array().map(normalizer))
        case "Prepend": return .prepend(Array(try n.required("prepend").string().utf8))
        case "Replace": return .replace(try pattern(n.required("pattern")), content: Array(try n.required("content").string().utf8))
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        default: throw type.invalid("unsupported normalizer \(type.kind) (supported: \(normalizerTypes.joined(separator: ", ")))")
        }
    }

    /// The steps of a pre-tokenizer, Sequences flattened. ByteLevel may only come last.
    static func preTokenizer(_ n: JSONNode) throws -> [PreTokenizer.Step] {
        let steps = try preTokenizerSteps(n)
        for (i, (step, node)) in steps.enumerated() where i < steps.count - 1 {
            if case .byteLevel = step {
                throw node.invalid("a pre-tokenizer after ByteLevel is not supported (ByteLevel must be the last step)")
            }
        }
        return steps.map(\.0)
    }

    private static func preTokenizerSteps(_ n: JSONNode) throws -> [(PreTokenizer.Step, JSONNode)] {
        let type = try n.required("type")
        switch try type.string() {
        case "Sequence":
            return try n.required("pretokenizers").array().flatMap(preTokenizerSteps)
        case "Split":
            let behaviorNode = try n.required("behavior")
            guard let behavior = SplitBehavior(rawValue: try behaviorNode.string()) else {
                throw behaviorNode.invalid("unknown split behavior \(behaviorNode.kind)")
            }
            return [(.split(try pattern(n.required("pattern")), behavior, inverted: try n["invert"]?.bool() ?? false), n)]
        case "Digits":
            let individual = try n["individual_digits"]?.bool() ?? false
            return [(.split(.numbers, individual ? .isolated : .contiguous, inverted: false), n)]
        case "Metaspace":
            return [(.metaspace(replacement: Array(String(try replacement(n)).utf8), prepend: try prependScheme(n),
                                split: try n["split"]?.bool() ?? true), n)]
        case "ByteLevel":
            return [(.byteLevel(addPrefixSpace: try n["add_prefix_space"]?.bool() ?? true,
                                useRegex: try n["use_regex"]?.bool() ?? true), n)]
        default:
            throw type.invalid("unsupported pre-tokenizer \(type.kind) (supported: \(preTokenizerTypes.joined(separator: ", ")))")
        }
    }

    static func decoder(_ n: JSONNode) throws -> TokenDecoder {
        let type = try n.required("type")
        switch try type.string() {
        case "Sequence": return .sequence(try n.required("decoders").array().map(decoder))
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Replace": return .replace(try pattern(n.required("pattern")), content: try n.required("content").string())
        case "Strip":
            return .strip(content: try scalar(n.required("content")), start: try n.required("start").int(),
                          stop: try n.required("stop").int())
        case "Metaspace": return .metaspace(replacement: try replacement(n), prepend: try prependScheme(n))
        default: throw type.invalid("unsupported decoder \(type.kind) (supported: \(decoderTypes.joined(separator: ", ")))")
        }
    }

    /// `{"String": s}` or `{"Regex": r}`; the known byte-level regexes get their hand-written
    /// scanners, other regexes ICU (an error if ICU cannot compile them).
    static func pattern(_ n: JSONNode) throws -> SplitPattern {
        if let s = n["String"] { return .literal(Array(try s.string().utf8)) }
        guard let r = n["Regex"] else { throw n.invalid("expected {\"String\": ...} or {\"Regex\": ...}, found \(n.kind)") }
        let regex = try r.string()
        if let known = KnownSplitPattern(regex: regex) { return .known(known) }
        do {
            return .regex(try ICURegex(regex))
        } catch {
            throw r.invalid("the regex \(r.kind) is not supported by the ICU engine: \(error.localizedDescription)")
        }
    }

    private static func replacement(_ n: JSONNode) throws -> Unicode.Scalar {
        try scalar(n.required("replacement"))
    }

    private static func scalar(_ n: JSONNode) throws -> Unicode.Scalar {
        let s = try n.string()
        guard s.unicodeScalars.count == 1, let c = s.unicodeScalars.first else { throw n.invalid("expected one character, found \(n.kind)") }
        return c
    }

    /// Metaspace's `prepend_scheme` (default "always"), or the legacy `add_prefix_space: false`.
    private static func prependScheme(_ n: JSONNode) throws -> PreTokenizer.PrependScheme {
        if let legacy = n["add_prefix_space"], try !legacy.bool(), n["prepend_scheme"] == nil { return .never }
        guard let scheme = n["prepend_scheme"] else { return .always }
        guard let s = PreTokenizer.PrependScheme(rawValue: try scheme.string()) else {
            throw scheme.invalid("unknown prepend scheme \(scheme.kind) (always, first, never)")
        }
        return s
    }
}
