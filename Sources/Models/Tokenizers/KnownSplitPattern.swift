/// The split regexes of the common byte-level BPE tokenizers, run by hand-written scanners instead
/// of a regex engine, so that pre-tokenization never makes encoding slow. Each alternative of these
/// patterns only looks one scalar ahead or gives back one scalar, so a single pass over per-scalar
/// classes matches exactly what Oniguruma matches (the test suite checks both against Hugging Face
/// and against the ICU fallback). Matches tile the text: every scalar is in some alternative.
enum KnownSplitPattern: Equatable, Sendable {
    /// GPT-2's pattern (ByteLevel's own split; SmolLM2 after its digit split).
    case gpt2
    /// Llama 3's pattern, with digit runs cut into groups of at most `maxDigits` (3; Qwen2's
    /// variant is 1).
    case llama3(maxDigits: Int)

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for `regex` if it is one of the known patterns, character for character.
    init?(regex: String) {
        switch regex {
        case Self.gpt2Regex: self = .gpt2
        case Self.llama3Regex: self = .llama3(maxDigits: 3)
        case Self.qwen2Regex: self = .llama3(maxDigits: 1)
        default: return nil
        }
    }

    /// The Oniguruma pattern this scanner implements.
    var regex: String {
        switch self {
        case .gpt2: return Self.gpt2Regex
        case .llama3(let digits): return digits == 1 ? Self.qwen2Regex : Self.llama3Regex
        }
    }

    /// Appends the end offset of each match in `bytes` to `ends`, in order.
    func matchEnds(_ bytes: UnsafeBufferPointer<UInt8>, scalars: inout TextScalars, into ends: inout [Int32]) {
        scalars.load(bytes)
        let n = scalars.count
        scalars.starts.withUnsafeBufferPointer { starts in
            scalars.classes.withUnsafeBufferPointer { classes in
                let scan = Scanner(bytes: bytes, starts: starts, classes: classes, end: n)
                var i = 0
                while i < n {
                    switch self {
                    case .gpt2: i = scan.gpt2Match(at: i)
                    case .llama3(let digits): i = scan.llama3Match(at: i, maxDigits: digits)
                    }
                    ends.append(starts[i])
                }
            }
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let starts: UnsafeBufferPointer<Int32>
        let classes: UnsafeBufferPointer<TextScalars.Class>
        let end: Int

        /// The ASCII byte of scalar `i`, or 0 when it is not ASCII (or past the end).
        @inline(__always) func ascii(_ i: Int) -> UInt8 {
            guard i < end else { return 0 }
            let s = Int(starts[i])
            return starts[i + 1] - starts[i] == 1 && bytes[s] < 0x80 ? bytes[s] : 0
        }

        /// Scalar `i` lowercased if it is an ASCII letter; U+017F (long s) as "s", since
        /// Oniguruma's case folding makes `(?i:'s)` match it.
        @inline(__always) func folded(_ i: Int) -> UInt8 {
            let a = ascii(i)
            if a >= UInt8(ascii: "A") && a <= UInt8(ascii: "Z") { return a | 0x20 }
            if a == 0, i < end, starts[i + 1] - starts[i] == 2, bytes[Int(starts[i])] == 0xC5, bytes[Int(starts[i]) + 1] == 0xBF {
                return UInt8(ascii: "s")
            }
            return a
        }

        @inline(__always) func isNewline(_ i: Int) -> Bool {
            let a = ascii(i)
            return a == 0x0A || a == 0x0D
        }

        /// The end (exclusive) of the run of scalars of class `c` starting at `i`.
        @inline(__always) func run(_ c: TextScalars.Class, from i: Int) -> Int {
            var j = i
            while j < end && classes[j] == c { j += 1 }
            return j
        }

        /// The end of `'s|'t|'re|'ve|'m|'ll|'d` at `i` (letters passed through `letter`), or nil.
        @inline(__always) func contraction(at i: Int, _ letter: (Int) -> UInt8) -> Int? {
            guard ascii(i) == UInt8(ascii: "'"), i + 1 < end else { return nil }
            switch letter(i + 1) {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                return letter(i + 2) == UInt8(ascii: "e") ? i + 3 : nil
            case UInt8(ascii: "l"):
                return letter(i + 2) == UInt8(ascii: "l") ? i + 3 : nil
            default:
                return nil
            }
        }

        /// `\s+(?!\S)|\s+` at a whitespace scalar: a run followed by a non-space gives back its
        /// last scalar (which then leads the next word); a run of one cannot, and `\s+` takes it.
        @inline(__always) func whitespace(at i: Int) -> Int {
            let e = run(.whitespace, from: i)
            return e < end && e - i > 1 ? e - 1 : e
        }

        /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
        func gpt2Match(at i: Int) -> Int {
            if let e = contraction(at: i, ascii) { return e }
            let c = classes[i]
            if c != .whitespace { return run(c, from: i) }
            // Only U+0020 may lead a word, and only when a non-space follows.
            if ascii(i) == 0x20, i + 1 < end, classes[i + 1] != .whitespace { return run(classes[i + 1], from: i + 1) }
            return whitespace(at: i)
        }

        /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
        /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
        func llama3Match(at i: Int, maxDigits: Int) -> Int {
            if let e = contraction(at: i, folded) { return e }
            let c = classes[i]
            switch c {
            case .letter:
                return run(.letter, from: i)
            case .number:
                return min(run(.number, from: i), i + maxDigits)
            case .other:
                if i + 1 < end && classes[i + 1] == .letter { return run(.letter, from: i + 1) }
                return newlines(from: run(.other, from: i))
            case .whitespace:
                if !isNewline(i), i + 1 < end {
                    if classes[i + 1] == .letter { return run(.letter, from: i + 1) }
                    if ascii(i) == 0x20 && classes[i + 1] == .other { return newlines(from: run(.other, from: i + 1)) }
                }
                // `\s*[\r\n]+`: the whitespace run up to and including its last CR/LF, if it has one.
                let e = run(.whitespace, from: i)
                var last = e - 1
                while last >= i && !isNewline(last) { last -= 1 }
                return last >= i ? last + 1 : whitespace(at: i)
            }
        }

        /// `[\r\n]*` from `i`.
        @inline(__always) func newlines(from i: Int) -> Int {
            var j = i
            while j < end && isNewline(j) { j += 1 }
            return j
        }
    }
}
