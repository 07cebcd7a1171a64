/// Finds added tokens (special tokens such as `<|eot_id|>`, and user-added ones) spelled out in
/// text, so they become their own id instead of being tokenized as characters — as Hugging Face's
/// `AddedVocabulary` does: leftmost-longest non-overlapping matches, then per token
/// `single_word` (a match with a word character right before or after it is skipped), `lstrip`/`rstrip` (the match swallows the
/// whitespace before/after it). The text is cut around each match before pre-tokenization.
struct AddedTokenMatcher: Sendable {
    /// An entry of tokenizer.json's `added_tokens` (GGUF's control and user-defined tokens).
    struct Token: Sendable {
        var content: String
        var id: Int
        /// Left out by `decode(_:skippingSpecial:)`.
        var special = false
        /// Matched in the normalized text (with `content` normalized too) rather than the raw text.
        var normalized = false
        var lstrip = false
        var rstrip = false
        var singleWord = false
    }

    private struct Candidate: Sendable {
        let content: [UInt8]
        let id: Int
        let lstrip, rstrip, singleWord: Bool
    }

    /// Candidates by first byte, longest first, so the first hit at a position is the longest.
    private let byFirstByte: [[Candidate]]
    let isEmpty: Bool

    /// A matcher for `tokens`, each spelled as `spelling` gives (its content, or its normalized
    /// content); empty spellings are ignored.
    init(_ tokens: [Token], spelling: (Token) -> [UInt8] = { Array($0.content.utf8) }) {
        var table = [[Candidate]](repeating: [], count: 256)
        for t in tokens {
            let content = spelling(t)
            guard let first = content.first else { continue }
            table[Int(first)].append(Candidate(content: content, id: t.id, lstrip: t.lstrip, rstrip: t.rstrip, singleWord: t.singleWord))
        }
        for i in 0..<256 { table[i].sort { $0.content.count > $1.content.count } }
        byFirstByte = table
        isEmpty = table.allSatisfy(\.isEmpty)
    }

    /// Calls `ordinary` for each stretch of text between added tokens (never empty) and `token`
    /// for each added token, in text order.
    func split(_ text: UnsafeBufferPointer<UInt8>, ordinary: (Range<Int>) -> Void, token: (Int) -> Void) {
        var segmentStart = 0
        var i = 0
        let n = text.count
        if !isEmpty {
            while i < n {
                guard let hit = match(text, at: i) else {
                    i += 1
                    continue
                }
                var start = i, stop = i + hit.content.count
                i = stop
                if hit.singleWord && (Self.wordCharacterEnds(text, at: start) || Self.wordCharacterStarts(text, at: stop)) { continue }
                if hit.lstrip {
                    while start > segmentStart, case let (s?, before) = TextScalars.scalar(in: text, endingAt: start),
                          s.properties.isWhitespace {
                        start = before
                    }
                }
                if hit.rstrip {
                    while stop < n, case let (s?, length) = TextScalars.scalar(in: text, at: stop), s.properties.isWhitespace {
                        stop += length
                    }
                }
                if segmentStart < start { ordinary(segmentStart..<start) }
                token(hit.id)
                segmentStart = stop
                i = max(i, stop)
            }
        }
        if segmentStart < n { ordinary(segmentStart..<n) }
    }

    /// Whether a word character (`\w`) ends at offset `i`.
    private static func wordCharacterEnds(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i > 0, case let (s?, _) = TextScalars.scalar(in: text, endingAt: i) else { return false }
        return TextScalars.isWordScalar(s)
    }

    /// Whether a word character (`\w`) starts at offset `i`.
    private static func wordCharacterStarts(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i < text.count, case let (s?, _) = TextScalars.scalar(in: text, at: i) else { return false }
        return TextScalars.isWordScalar(s)
    }

    @inline(__always) private func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Candidate? {
        let candidates = byFirstByte[Int(text[i])]
        if candidates.isEmpty { return nil }
        let remaining = text.count - i
        outer: for c in candidates where c.content.count <= remaining {
            for k in 1..<c.content.count where text[i + k] != c.content[k] { continue outer }
            return c
        }
        return nil
    }
}
