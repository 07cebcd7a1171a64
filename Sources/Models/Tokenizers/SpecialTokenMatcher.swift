/// Finds special tokens spelled out in text, so they are emitted as their own id instead of being
/// tokenized as ordinary characters. Leftmost-longest matching, as the Aho-Corasick automaton of
/// Hugging Face's `AddedVocabulary` does: the text is cut around each match before pre-tokenization.
struct SpecialTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        let bytes: [UInt8]
        let id: Int
    }

    /// Candidates by first byte, longest first, so the first hit at a position is the longest.
    private let byFirstByte: [[Candidate]]
    let isEmpty: Bool

    /// `tokens` maps each special token's text to its id; empty strings are ignored.
    init(_ tokens: [(text: String, id: Int)]) {
        var table = [[Candidate]](repeating: [], count: 256)
        for t in tokens where !t.text.isEmpty {
            let b = Array(t.text.utf8)
            table[Int(b[0])].append(Candidate(bytes: b, id: t.id))
        }
        for i in 0..<256 { table[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = tokens.allSatisfy { $0.text.isEmpty }
    }

    /// Calls `ordinary` for each stretch of text between special tokens (never empty) and
    /// `special` for each special token, in text order.
    func split(_ text: UnsafeBufferPointer<UInt8>, ordinary: (Range<Int>) -> Void, special: (Int) -> Void) {
        var segmentStart = 0
        var i = 0
        let n = text.count
        if !isEmpty {
            while i < n {
                guard let hit = match(text, at: i) else {
                    i += 1
                    continue
                }
                if segmentStart < i { ordinary(segmentStart..<i) }
                special(hit.id)
                i += hit.bytes.count
                segmentStart = i
            }
        }
        if segmentStart < n { ordinary(segmentStart..<n) }
    }

    @inline(__always) private func match(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Candidate? {
        let candidates = byFirstByte[Int(text[i])]
        if candidates.isEmpty { return nil }
        let remaining = text.count - i
        outer: for c in candidates where c.bytes.count <= remaining {
            for k in 1..<c.bytes.count where text[i + k] != c.bytes[k] { continue outer }
            return c
        }
        return nil
    }
}
