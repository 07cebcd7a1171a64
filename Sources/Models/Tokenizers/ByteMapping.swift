/// GPT-2's reversible table between the 256 byte values and printable Unicode scalars. Byte-level
/// BPE vocabularies spell every token in these scalars, so a token string maps back to raw bytes
/// and no byte sequence is ever unrepresentable.
enum ByteMapping {
    /// `scalar[b]` is the scalar that stands for byte `b` in vocabulary strings.
    static let scalar: [Unicode.Scalar] = {
        // Printable Latin-1 bytes stand for themselves; the rest (controls, space, DEL, NBSP,
        // soft hyphen) are shifted to U+0100 and up, in byte order, so the vocabulary stays printable.
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(shifted)!
                shifted += 1
            }
        }
        return table
    }()

    /// Inverse of `scalar`, indexed by scalar value (all of them are below 0x144); -1 = not a byte.
    private static let byteForScalar: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 0x144)
        for (b, s) in scalar.enumerated() { inverse[Int(s.value)] = Int16(b) }
        return inverse
    }()

    /// The byte `s` stands for, or nil when `s` is not one of the 256 byte scalars.
    static func byte(for s: Unicode.Scalar) -> UInt8? {
        let v = Int(s.value)
        guard v < byteForScalar.count, byteForScalar[v] >= 0 else { return nil }
        return UInt8(byteForScalar[v])
    }

    /// Raw bytes of a vocabulary string: byte scalars map back to their byte, any other scalar
    /// (only found in added tokens) contributes its own UTF-8, as Hugging Face's ByteLevel decoder does.
    static func bytes(ofVocabularyString token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            if let b = byte(for: s) { out.append(b) } else { out.append(contentsOf: String(s).utf8) }
        }
        return out
    }
}
