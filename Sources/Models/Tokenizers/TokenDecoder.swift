/// Hugging Face's decoders: token strings → text, step by step as `decode_chain` does, joined at
/// the end. Most steps work token by token; Fuse joins all tokens into one, after which Strip
/// applies to the whole text (SentencePiece's "drop the dummy-prefix space").
indirect enum TokenDecoder: Sendable {
    case sequence([TokenDecoder])
    /// GPT-2's byte scalars back to bytes, the whole result read as UTF-8 (invalid → U+FFFD).
    case byteLevel
    /// Runs of `<0xHH>` tokens to the text of their bytes (one U+FFFD per byte if not UTF-8).
    case byteFallback
    /// Every match of a string (or regex) replaced by `content`.
    case replace(SplitPattern, content: String)
    /// All tokens joined into one.
    case fuse
    /// Up to `start` leading and `stop` trailing `content` scalars removed from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// `replacement` back to spaces, except that the first token loses it (unless `never` prepended).
    case metaspace(replacement: Unicode.Scalar, prepend: PreTokenizer.PrependScheme)

    /// The text of `tokens` (tokenizers' `Decoder::decode`).
    func decode(_ tokens: [String]) -> String { decodeChain(tokens).joined() }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            return [String(decoding: tokens.flatMap(Self.byteLevelBytes), as: UTF8.self)]
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.fallbackByte(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .replace(let pattern, let content):
            return tokens.map { String(decoding: Self.replace(pattern, in: Array($0.utf8), with: Array(content.utf8)), as: UTF8.self) }
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var scalars = Array(token.unicodeScalars)
                let head = scalars.prefix(start).prefix { $0 == content }.count
                scalars.removeFirst(head)
                let tail = scalars.reversed().prefix(stop).prefix { $0 == content }.count
                scalars.removeLast(tail)
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars)
                return String(s)
            }
        case .metaspace(let replacement, let prepend):
            return tokens.enumerated().map { i, token in
                var s = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c != replacement { s.append(c) } else if i > 0 || prepend == .never { s.append(" ") }
                }
                return String(s)
            }
        }
    }

    /// What `token` adds to the text after other tokens: each step's token-by-token effect in
    /// bytes (a lone `<0xHH>` is its byte, not U+FFFD), with no first-token rule (Metaspace) and
    /// nothing that acts on the fused whole (Strip after Fuse). Concatenated over a continuation
    /// they give its bytes.
    func continuationBytes(_ token: String) -> [UInt8] {
        var fused = false
        return continuation(Array(token.utf8), fused: &fused)
    }

    private func continuation(_ bytes: [UInt8], fused: inout Bool) -> [UInt8] {
        switch self {
        case .sequence(let steps):
            var b = bytes
            for step in steps { b = step.continuation(b, fused: &fused) }
            return b
        case .byteLevel:
            return Self.byteLevelBytes(String(decoding: bytes, as: UTF8.self))
        case .byteFallback:
            return Self.fallbackByte(String(decoding: bytes, as: UTF8.self)).map { [$0] } ?? bytes
        case .replace(let pattern, let content):
            return Self.replace(pattern, in: bytes, with: Array(content.utf8))
        case .fuse:
            fused = true
            return bytes
        case .strip:
            guard !fused else { return bytes }
            return Array(decodeChain([String(decoding: bytes, as: UTF8.self)])[0].utf8)
        case .metaspace(let replacement, _):
            return Self.replace(.literal(Array(String(replacement).utf8)), in: bytes, with: [0x20])
        }
    }

    /// ByteLevel's rule for one token: its bytes if every scalar is one of GPT-2's byte scalars,
    /// else its own UTF-8 (added tokens such as `<|eot_id|>` are spelled in plain text).
    static func byteLevelBytes(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = ByteMapping.byte(for: s) else { return Array(token.utf8) }
            out.append(b)
        }
        return out
    }

    /// The byte of a `<0xHH>` token (either case of hex digits, as ByteFallback accepts).
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    private static func replace(_ pattern: SplitPattern, in bytes: [UInt8], with content: [UInt8]) -> [UInt8] {
        TextNormalizer.replace(pattern, content: content).normalize(bytes)
    }
}
