/// Splits text into the words byte-level BPE merges within, reproducing Hugging Face tokenizers'
/// `ByteLevel(use_regex: true)` split, i.e. GPT-2's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
/// optionally preceded by `Digits(individual_digits: true)` (SmolLM2's `smollm` pre-tokenizer).
///
/// Written as a scanner over Unicode scalars instead of a regex engine: each alternative of the
/// pattern only ever looks one scalar ahead or gives back one scalar, so a single pass with
/// per-scalar classes is exact and allocation-free. It works on bytes so that text that is not
/// valid UTF-8 still splits (each invalid byte counts as one "other" scalar) and round-trips.
struct ByteLevelPreTokenizer: Sendable {
    /// Isolate every numeric scalar (`\p{N}`, Rust's `char::is_numeric`) before the GPT-2 split.
    let splitsDigits: Bool

    /// The classes the pattern distinguishes.
    enum ScalarClass: UInt8 { case letter, number, whitespace, other }

    /// Reusable buffers, so encoding a long text allocates them once.
    struct Scratch {
        /// Byte offset where each scalar starts, plus the end offset as a sentinel.
        var starts: [Int32] = []
        var classes: [ScalarClass] = []
    }

    /// Appends to `wordEnds` the end offset (relative to `bytes`) of each word of `bytes`, in
    /// order. Words tile the input: each starts where the previous ended.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, wordEnds: inout [Int32]) {
        Self.decode(bytes, into: &scratch)
        let n = scratch.classes.count
        scratch.starts.withUnsafeBufferPointer { starts in
            scratch.classes.withUnsafeBufferPointer { classes in
                let scan = Scanner(bytes: bytes, starts: starts, classes: classes)
                guard splitsDigits else {
                    scan.words(0, n, &wordEnds)
                    return
                }
                var pieceStart = 0
                for i in 0..<n where classes[i] == .number {
                    scan.words(pieceStart, i, &wordEnds)
                    wordEnds.append(starts[i + 1])
                    pieceStart = i + 1
                }
                scan.words(pieceStart, n, &wordEnds)
            }
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let starts: UnsafeBufferPointer<Int32>
        let classes: UnsafeBufferPointer<ScalarClass>

        /// The ASCII byte of scalar `i`, or 0 when it is not ASCII.
        @inline(__always) func ascii(_ i: Int) -> UInt8 {
            let s = Int(starts[i])
            return starts[i + 1] - starts[i] == 1 && bytes[s] < 0x80 ? bytes[s] : 0
        }

        /// The end (exclusive) of the run of scalars of class `c` starting at `i`, bounded by `end`.
        @inline(__always) func run(_ c: ScalarClass, from i: Int, _ end: Int) -> Int {
            var j = i
            while j < end && classes[j] == c { j += 1 }
            return j
        }

        /// Words of scalars `lo..<hi`, matched as the regex would: alternatives in order, each greedy.
        func words(_ lo: Int, _ hi: Int, _ wordEnds: inout [Int32]) {
            var i = lo
            while i < hi {
                let next = match(at: i, hi)
                wordEnds.append(starts[next])
                i = next
            }
        }

        /// End of the match starting at scalar `i` (always > i).
        @inline(__always) private func match(at i: Int, _ hi: Int) -> Int {
            let c = classes[i]
            if ascii(i) == UInt8(ascii: "'"), i + 1 < hi {
                switch ascii(i + 1) {
                case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
                    return i + 2
                case UInt8(ascii: "r"), UInt8(ascii: "v"):
                    if i + 2 < hi && ascii(i + 2) == UInt8(ascii: "e") { return i + 3 }
                case UInt8(ascii: "l"):
                    if i + 2 < hi && ascii(i + 2) == UInt8(ascii: "l") { return i + 3 }
                default:
                    break
                }
            }
            if c != .whitespace { return run(c, from: i, hi) }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: only U+0020 may lead, and only when a
            // non-space follows.
            if ascii(i) == 0x20, i + 1 < hi, classes[i + 1] != .whitespace {
                return run(classes[i + 1], from: i + 1, hi)
            }
            // `\s+(?!\S)` gives back the last space of a run followed by a non-space (which then
            // leads the next word); a run of one cannot give anything back and `\s+` takes it.
            let end = run(.whitespace, from: i, hi)
            return end < hi && end - i > 1 ? end - 1 : end
        }
    }

    /// Fills `scratch` with the scalars of `bytes`; each byte of an ill-formed sequence is its own
    /// scalar of class `other`.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, into scratch: inout Scratch) {
        scratch.starts.removeAll(keepingCapacity: true)
        scratch.classes.removeAll(keepingCapacity: true)
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = bytes[i]
            scratch.starts.append(Int32(i))
            if b0 < 0x80 {
                scratch.classes.append(asciiClass[Int(b0)])
                i += 1
                continue
            }
            let (length, value) = decodeMultibyte(bytes, at: i)
            if length == 0 {
                scratch.classes.append(.other)
                i += 1
            } else {
                scratch.classes.append(classify(Unicode.Scalar(value)!))
                i += length
            }
        }
        scratch.starts.append(Int32(n))
    }

    /// Length and value of the well-formed multi-byte UTF-8 sequence at `i`, or length 0.
    @inline(__always)
    private static func decodeMultibyte(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, UInt32) {
        let b0 = bytes[i]
        let length: Int
        var lowest: UInt8 = 0x80, highest: UInt8 = 0xBF  // allowed range of the second byte
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowest = 0xA0           // no overlong forms
        case 0xED: length = 3; highest = 0x9F          // no surrogates
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; lowest = 0x90
        case 0xF4: length = 4; highest = 0x8F          // nothing above U+10FFFF
        case 0xF1...0xF3: length = 4
        default: return (0, 0)
        }
        guard i + length <= bytes.count, (lowest...highest).contains(bytes[i + 1]) else { return (0, 0) }
        var value = UInt32(b0) & (0x7F >> UInt32(length))
        for k in 1..<length {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { return (0, 0) }
            value = value << 6 | UInt32(b & 0x3F)
        }
        return (length, value)
    }

    private static let asciiClass: [ScalarClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    /// `\p{L}`, `\p{N}` and `\s` (Oniguruma's Unicode `\s` is exactly the White_Space property).
    static func classify(_ s: Unicode.Scalar) -> ScalarClass {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return s.properties.isWhitespace ? .whitespace : .other
        }
    }
}
