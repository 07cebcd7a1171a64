import Foundation

/// A tokenizer.json regex (written for Oniguruma, which Hugging Face `tokenizers` uses) run by
/// Foundation's ICU engine, for the patterns `KnownSplitPattern` has no scanner for. The two
/// dialects agree on the constructs tokenizers use (alternation, classes, `\p{..}`, lookahead,
/// `(?i:..)`) except for a few shorthands, which are rewritten to Oniguruma's Unicode meaning
/// before compiling: `\s`/`\S` (White_Space), `\w`/`\W` (alphabetic, marks, decimal digits,
/// connector punctuation — not ICU's joiners), `\h`/`\H` (hex digits), `\p{^X}`, `.` (anything but
/// LF) and `^`/`$` (Ruby's line anchors, at LF only). Differences that remain: Oniguruma's `\w`
/// also takes a few other numbers (e.g. ², not ①), `\b` follows ICU's word definition, and each
/// engine classifies scalars by its own Unicode version (Oniguruma's is 16.0).
struct ICURegex: @unchecked Sendable {  // NSRegularExpression is immutable and thread-safe
    private let regex: NSRegularExpression

    /// Compiles `pattern`; the error message is ICU's.
    init(_ pattern: String) throws {
        regex = try NSRegularExpression(pattern: Self.icuPattern(pattern))
    }

    /// Byte ranges of the non-overlapping matches in `bytes`, left to right. Bytes that are not
    /// UTF-8 are matched as U+FFFD, each on its own.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var scalars = String.UnicodeScalarView()
        // Byte offset of each UTF-16 offset of the string built, plus the end.
        var byteOffset: [Int] = []
        byteOffset.reserveCapacity(bytes.count + 1)
        var i = 0
        while i < bytes.count {
            let (scalar, length) = TextScalars.scalar(in: bytes, at: i)
            let s = scalar ?? "\u{FFFD}"
            scalars.append(s)
            for _ in 0..<UTF16.width(s) { byteOffset.append(i) }
            i += length
        }
        byteOffset.append(bytes.count)
        let string = String(scalars)
        return regex.matches(in: string, range: NSRange(location: 0, length: byteOffset.count - 1)).map {
            byteOffset[$0.range.location]..<byteOffset[$0.range.location + $0.range.length]
        }
    }

    /// `bytes` with every match replaced by `content`.
    func replacingMatches(in bytes: [UInt8], with content: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { text in
            var out: [UInt8] = []
            out.reserveCapacity(text.count)
            var last = 0
            for m in matches(text) {
                out.append(contentsOf: text[last..<m.lowerBound])
                out.append(contentsOf: content)
                last = m.upperBound
            }
            out.append(contentsOf: text[last...])
            return out
        }
    }

    /// ICU's spelling of an Oniguruma pattern (see the type's documentation).
    static func icuPattern(_ pattern: String) -> String {
        let word = #"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}"#
        var out = ""
        var classDepth = 0
        var chars = pattern.makeIterator()
        while let c = chars.next() {
            switch c {
            case "\\":
                guard let e = chars.next() else { out.append(c); break }
                switch e {
                case "s": out += #"\p{White_Space}"#
                case "S": out += #"\P{White_Space}"#
                case "w": out += "[\(word)]"
                case "W": out += "[^\(word)]"
                case "h": out += "[0-9a-fA-F]"
                case "H": out += "[^0-9a-fA-F]"
                case "p", "P":
                    var name = ""
                    guard let open = chars.next() else { out += "\\\(e)"; break }
                    guard open == "{" else { out += "\\\(e)\(open)"; break }
                    while let n = chars.next(), n != "}" { name.append(n) }
                    let negated = name.hasPrefix("^") != (e == "P")
                    out += "\\\(negated ? "P" : "p"){\(name.hasPrefix("^") ? String(name.dropFirst()) : name)}"
                default: out += "\\\(e)"
                }
            case "[":
                classDepth += 1
                out.append(c)
            case "]" where classDepth > 0:
                classDepth -= 1
                out.append(c)
            case "." where classDepth == 0: out += #"[^\n]"#
            case "^" where classDepth == 0: out += #"(?<![^\n])"#
            case "$" where classDepth == 0: out += #"(?![^\n])"#
            default: out.append(c)
            }
        }
        return out
    }
}
