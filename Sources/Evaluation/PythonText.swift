/// The few Python `str` operations the lm-eval templates use, reproduced at the Unicode-scalar level
/// (Python strings are sequences of code points; Swift's `Character` comparison would fold
/// canonically equivalent sequences and Foundation's search is not literal by default).
enum PythonText {
    /// `str.isspace()` for one code point: the Unicode White_Space set plus the ASCII separators
    /// U+001C…U+001F, which Python also counts.
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `str.strip()` with no argument.
    static func strip(_ text: Substring.UnicodeScalarView) -> String {
        guard let first = text.firstIndex(where: { !isSpace($0) }),
              let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        // Substring(UnicodeScalarView) keeps scalar-aligned bounds; String(_:) then copies bytes.
        return String(Substring(text[first...last]))
    }

    static func strip(_ text: String) -> String { strip(Substring(text).unicodeScalars) }

    /// `str.capitalize()`: the first code point upper-cased, every later one lower-cased.
    static func capitalize(_ text: String) -> String {
        guard let first = text.unicodeScalars.first else { return text }
        let rest = String(Substring(text.unicodeScalars.dropFirst()))
        return String(first).uppercased() + rest.lowercased()
    }

    /// `str.replace(old, new)`: every non-overlapping occurrence, left to right. Matching UTF-8
    /// bytes is matching code points: a valid needle can only match at scalar boundaries.
    static func replace(_ text: String, _ old: String, _ new: String) -> String {
        let needle = Array(old.utf8)
        guard let first = needle.first else { return text }
        var out: [UInt8] = []
        var changed = false
        var text = text
        text.withUTF8 { hay in
            out.reserveCapacity(hay.count)
            var i = 0
            while i < hay.count {
                if hay[i] == first, i + needle.count <= hay.count, needle.indices.allSatisfy({ hay[i + $0] == needle[$0] }) {
                    out.append(contentsOf: new.utf8)
                    i += needle.count
                    changed = true
                } else {
                    out.append(hay[i])
                    i += 1
                }
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// `re.sub(r"\[.*?\]", "", text)`: each "[" up to the nearest following "]" on the same line
    /// (`.` does not match a newline) is deleted; a "[" with no such "]" stays. All three delimiters
    /// are ASCII, so scanning UTF-8 bytes is exact.
    static func removeBracketedTags(_ text: String) -> String {
        let s = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        outer: while i < s.count {
            if s[i] == UInt8(ascii: "[") {
                var j = i + 1
                while j < s.count, s[j] != UInt8(ascii: "\n") {
                    if s[j] == UInt8(ascii: "]") { i = j + 1; continue outer }
                    j += 1
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Python `len(str)`: the number of code points.
    static func length(_ text: String) -> Int { text.unicodeScalars.count }
}
