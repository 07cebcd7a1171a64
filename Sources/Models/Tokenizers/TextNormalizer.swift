import Foundation

/// Hugging Face's normalizers that BPE tokenizers use, applied to UTF-8 bytes. Bytes that are not
/// UTF-8 pass through unchanged (Unicode normalization runs on the well-formed stretches between
/// them), where Hugging Face, which only takes text, would see U+FFFD.
indirect enum TextNormalizer: Sendable {
    case sequence([TextNormalizer])
    /// `prefix` in front of non-empty text.
    case prepend([UInt8])
    /// Every match of a string (or regex) replaced by `content`.
    case replace(SplitPattern, content: [UInt8])
    case nfc, nfd, nfkc, nfkd

    func normalize(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(text) { $1.normalize($0) }
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .replace(.regex(let regex), let content):
            return regex.replacingMatches(in: text, with: content)
        case .replace(let pattern, let content):
            return Self.replace(pattern, in: text, with: content)
        case .nfc, .nfd, .nfkc, .nfkd:
            // ASCII text is invariant under all four forms.
            if text.allSatisfy({ $0 < 0x80 }) { return text }
            return unicodeNormalized(text)
        }
    }

    private static func replace(_ pattern: SplitPattern, in text: [UInt8], with content: [UInt8]) -> [UInt8] {
        var stretches: [SplitPattern.Match] = []
        var scratch = SplitPattern.Scratch()
        text.withUnsafeBufferPointer { pattern.stretches($0, scratch: &scratch, into: &stretches) }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 4)
        for s in stretches {
            if s.isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: text[Int(s.start)..<Int(s.end)]) }
        }
        return out
    }

    /// NFC/NFD/NFKC/NFKD (Foundation's ICU) of each well-formed stretch of `text`.
    private func unicodeNormalized(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        text.withUnsafeBufferPointer { bytes in
            var runStart = 0, i = 0
            func flush(_ end: Int) {
                guard runStart < end else { return }
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self)
                let normalized: String
                switch self {
                case .nfc: normalized = s.precomposedStringWithCanonicalMapping
                case .nfd: normalized = s.decomposedStringWithCanonicalMapping
                case .nfkc: normalized = s.precomposedStringWithCompatibilityMapping
                default: normalized = s.decomposedStringWithCompatibilityMapping
                }
                out.append(contentsOf: normalized.utf8)
            }
            while i < bytes.count {
                let (scalar, length) = TextScalars.scalar(in: bytes, at: i)
                if scalar == nil {
                    flush(i)
                    out.append(bytes[i])
                    runStart = i + 1
                }
                i += length
            }
            flush(bytes.count)
        }
        return out
    }
}
