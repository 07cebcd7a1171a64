/// What a pre-tokenizer cuts text at, as Hugging Face's `Pattern`: the text is tiled into matches
/// and the stretches between them, which a `SplitBehavior` then keeps, drops or joins.
enum SplitPattern: Sendable {
    /// A regex with a hand-written scanner (GPT-2, Llama 3, Qwen2).
    case known(KnownSplitPattern)
    /// Any other regex, run by ICU.
    case regex(ICURegex)
    /// Every occurrence of a string, left to right without overlaps (Split's `String` pattern,
    /// Metaspace's replacement character).
    case literal([UInt8])
    /// Every numeric scalar (`\p{N}`, Rust's `char::is_numeric`), one match each (Digits).
    case numbers

    /// One stretch of a text: a match of the pattern or the text between two matches.
    struct Match {
        var start: Int32
        var end: Int32
        var isMatch: Bool
    }

    /// Reusable buffers of the matchers.
    struct Scratch {
        var scalars = TextScalars()
        var ends: [Int32] = []
    }

    /// Appends the stretches of `bytes` to `out`, in order; together they tile `bytes`.
    func stretches(_ bytes: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, into out: inout [Match]) {
        let n = Int32(bytes.count)
        var last: Int32 = 0
        func add(_ start: Int32, _ end: Int32) {
            if last < start { out.append(Match(start: last, end: start, isMatch: false)) }
            out.append(Match(start: start, end: end, isMatch: true))
            last = end
        }
        switch self {
        case .known(let pattern):
            scratch.ends.removeAll(keepingCapacity: true)
            pattern.matchEnds(bytes, scalars: &scratch.scalars, into: &scratch.ends)
            for end in scratch.ends { add(last, end) }
        case .regex(let regex):
            for m in regex.matches(bytes) { add(Int32(m.lowerBound), Int32(m.upperBound)) }
        case .literal(let literal):
            guard let first = literal.first else { break }
            var i = 0
            while i + literal.count <= bytes.count {
                if bytes[i] == first && (1..<literal.count).allSatisfy({ bytes[i + $0] == literal[$0] }) {
                    add(Int32(i), Int32(i + literal.count))
                    i += literal.count
                } else {
                    i += 1
                }
            }
        case .numbers:
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b < 0x80 {
                    if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { add(Int32(i), Int32(i + 1)) }
                    i += 1
                    continue
                }
                let (scalar, length) = TextScalars.scalar(in: bytes, at: i)
                if let scalar, TextScalars.classify(scalar) == .number { add(Int32(i), Int32(i + length)) }
                i += length
            }
        }
        if last < n { out.append(Match(start: last, end: n, isMatch: false)) }
    }
}

/// What becomes of a pattern's matches (Hugging Face's `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    /// Matches are dropped; the text between them stays.
    case removed = "Removed"
    /// Matches and the text between them are each a piece.
    case isolated = "Isolated"
    /// Each match joins the piece before it.
    case mergedWithPrevious = "MergedWithPrevious"
    /// Each match joins the piece after it.
    case mergedWithNext = "MergedWithNext"
    /// Runs of matches, and runs of non-matches, are each one piece.
    case contiguous = "Contiguous"

    /// Calls `piece` with the byte range of each resulting non-empty piece, in order. `inverted`
    /// swaps matches and non-matches first (Split's `invert`). The rules, including how adjacent
    /// matches are (not) joined, are those of `NormalizedString::split`.
    func pieces(_ stretches: [SplitPattern.Match], inverted: Bool, _ piece: (Int32, Int32) -> Void) {
        var out: [(start: Int32, end: Int32)] = []
        var previousMatch = false
        switch self {
        case .removed:
            for s in stretches where s.isMatch == inverted && s.start < s.end { piece(s.start, s.end) }
            return
        case .isolated:
            for s in stretches where s.start < s.end { piece(s.start, s.end) }
            return
        case .contiguous:
            for s in stretches {
                let isMatch = s.isMatch != inverted
                if isMatch == previousMatch, !out.isEmpty { out[out.count - 1].end = s.end } else { out.append((s.start, s.end)) }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            for s in stretches {
                let isMatch = s.isMatch != inverted
                if isMatch && !previousMatch, !out.isEmpty { out[out.count - 1].end = s.end } else { out.append((s.start, s.end)) }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            for s in stretches.reversed() {
                let isMatch = s.isMatch != inverted
                if isMatch && !previousMatch, !out.isEmpty { out[out.count - 1].start = s.start } else { out.append((s.start, s.end)) }
                previousMatch = isMatch
            }
            out.reverse()
        }
        for p in out where p.start < p.end { piece(p.start, p.end) }
    }
}
