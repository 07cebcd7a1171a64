/// The Unicode scalars of a byte string, with the classes the pre-tokenizer regexes distinguish.
/// Bytes that are not well-formed UTF-8 count as one scalar each, of class `other` (what U+FFFD,
/// which Hugging Face sees in their place, is), so text that is not UTF-8 still splits and
/// round-trips byte for byte.
struct TextScalars {
    /// `\p{L}`, `\p{N}`, `\s` (White_Space) and everything else.
    enum Class: UInt8 { case letter, number, whitespace, other }

    /// Byte offset where each scalar starts, plus the end offset as a sentinel.
    private(set) var starts: [Int32] = []
    private(set) var classes: [Class] = []

    var count: Int { classes.count }

    /// Replaces the contents with the scalars of `bytes`.
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>) {
        starts.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        let n = bytes.count
        var i = 0
        while i < n {
            starts.append(Int32(i))
            let b0 = bytes[i]
            if b0 < 0x80 {
                classes.append(Self.asciiClass[Int(b0)])
                i += 1
                continue
            }
            let (length, value) = Self.decodeMultibyte(bytes, at: i)
            if length == 0 {
                classes.append(.other)
                i += 1
            } else {
                classes.append(Self.classify(Unicode.Scalar(value)!))
                i += length
            }
        }
        starts.append(Int32(n))
    }

    /// The scalar starting at byte `i` and its length in bytes, or nil (length 1) for an ill-formed byte.
    @inline(__always)
    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar?, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        let (length, value) = decodeMultibyte(bytes, at: i)
        return length == 0 ? (nil, 1) : (Unicode.Scalar(value), length)
    }

    /// The scalar that ends at byte `end` (exclusive) and its start, or nil (start `end - 1`) when
    /// the bytes before `end` do not end in a well-formed scalar.
    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, endingAt end: Int) -> (Unicode.Scalar?, Int) {
        var start = end - 1
        while start > max(0, end - 4) && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        let (scalar, length) = Self.scalar(in: bytes, at: start)
        return start + length == end && scalar != nil ? (scalar, start) : (nil, end - 1)
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

    private static let asciiClass: [Class] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    /// The Unicode version of Hugging Face's regex engine (Oniguruma) and of Rust's `char`
    /// properties: scalars assigned later are unassigned (`other`) there.
    static let referenceUnicodeMajor = 16

    /// `\p{L}`, `\p{N}` (also Rust's `char::is_numeric`, the Digits pre-tokenizer's test) and `\s`
    /// (Oniguruma's Unicode `\s` is exactly the White_Space property), as of Unicode 16.
    static func classify(_ s: Unicode.Scalar) -> Class {
        if let age = s.properties.age, age.major > referenceUnicodeMajor { return .other }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return s.properties.isWhitespace ? .whitespace : .other
        }
    }

    /// The `regex` crate's Unicode `\w` (Alphabetic, marks, decimal digits, connector punctuation,
    /// Join_Control), which decides where a `single_word` added token may match.
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
