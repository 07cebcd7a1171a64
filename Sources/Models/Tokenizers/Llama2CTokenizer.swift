import Foundation

/// llama2.c's tokenizer (`tokenizer.bin`, `tok512.bin`): a SentencePiece-style vocabulary with a
/// score per token, encoded by repeatedly merging the adjacent pair whose concatenation is the
/// highest-scoring token, with `<0xHH>` byte tokens for characters the vocabulary lacks.
///
/// File layout: int32 max token length, then per token float32 score, int32 byte length, bytes.
///
/// Encoding follows the project's reference (`l2c.py`, see models.md): the text starts as one
/// token per UTF-8 byte. llama2.c's `run.c` instead starts a multi-byte character as its own token
/// when the vocabulary has it (tok512.bin has 14 such, e.g. “ ” ’ é €), so for those characters
/// the two differ: here such a character stays as byte tokens, since `<0xHH>` tokens never merge.
public struct Llama2CTokenizer: Tokenizer {
    public let vocabSize: Int
    public var bosToken: Int? { 1 }
    public var eosToken: Int? { 2 }
    public var addsBOSByDefault: Bool { true }

    /// Token texts as stored, except byte tokens: the byte they stand for.
    private let decoded: [[UInt8]]
    /// The token each byte of the text starts as: the one-byte token of that byte if the
    /// vocabulary has one, its `<0xHH>` token otherwise.
    private let byteToken: [Int32]
    /// Every pair of tokens whose concatenation is a token, prioritised by that token's score.
    private let merges: PairTable

    /// Reads the first `vocabSize` tokens of `url` (the model header gives the size).
    public init(contentsOf url: URL, vocabSize: Int) throws {
        let file = url.path
        guard let data = FileManager.default.contents(atPath: file) else { throw ModelFormatError.fileNotFound(file: file) }
        guard vocabSize >= 3 else {
            throw ModelFormatError.invalidConfig(file: file, field: "vocab_size", reason: "\(vocabSize) is too small for <unk>, BOS and EOS")
        }
        let bytes = [UInt8](data)
        var offset = 0
        func int32(_ what: String) throws -> Int32 {
            guard offset + 4 <= bytes.count else {
                throw ModelFormatError.truncated(file: file, what: what, offset: offset, needed: 4, fileSize: bytes.count)
            }
            let v = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            offset += 4
            return Int32(bitPattern: v)
        }
        let maxLength = try int32("max token length")
        var scores: [Float] = []
        var pieces: [[UInt8]] = []
        for id in 0..<vocabSize {
            let score = Float(bitPattern: UInt32(bitPattern: try int32("score of token \(id)")))
            let lengthOffset = offset
            let length = Int(try int32("length of token \(id)"))
            guard (0...Int(max(maxLength, 0))).contains(length) else {
                throw ModelFormatError.corrupt(file: file, what: "length of token \(id)", offset: lengthOffset,
                                               reason: "\(length) is outside 0...\(maxLength) (the max token length)")
            }
            guard offset + length <= bytes.count else {
                throw ModelFormatError.truncated(file: file, what: "text of token \(id)", offset: offset, needed: length, fileSize: bytes.count)
            }
            pieces.append(Array(bytes[offset..<offset + length]))
            scores.append(score)
            offset += length
        }

        var byteToken = [Int32](repeating: -1, count: 256)
        var decoded = pieces
        for (id, piece) in pieces.enumerated() {
            if let b = Self.byteValue(piece) {
                byteToken[Int(b)] = Int32(id)
                decoded[id] = [b]
            }
        }
        if let missing = byteToken.firstIndex(of: -1) {
            throw ModelFormatError.corrupt(file: file, what: "vocabulary", offset: 4,
                                           reason: String(format: "no byte-fallback token <0x%02X>", missing))
        }

        // Last occurrence wins for duplicated texts, as in the reference's dict built in id order.
        var idOf = [[UInt8]: Int32](minimumCapacity: vocabSize)
        for (id, piece) in pieces.enumerated() { idOf[piece] = Int32(id) }
        for b in 0..<256 { if let id = idOf[[UInt8(b)]] { byteToken[b] = id } }
        var table = PairTable(capacity: vocabSize * 4)
        for (piece, id) in idOf {
            // The reference only merges when the score beats its starting best of -1e10.
            let score = scores[Int(id)]
            guard piece.count > 1, score > -1e10 else { continue }
            for cut in 1..<piece.count {
                if let left = idOf[Array(piece[..<cut])], let right = idOf[Array(piece[cut...])] {
                    table.set(left, right, priority: PairTable.priority(score: score), merged: id)
                }
            }
        }

        self.vocabSize = vocabSize
        self.decoded = decoded
        self.byteToken = byteToken
        merges = table
    }

    /// The byte a `<0xHH>` token stands for.
    private static func byteValue(_ piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece[0] == UInt8(ascii: "<"), piece[1] == UInt8(ascii: "0"),
              piece[2] == UInt8(ascii: "x"), piece[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: piece[3...4], as: UTF8.self), radix: 16)
    }

    /// Ids for `text` without BOS: a space is prepended (SentencePiece's dummy prefix) unless the
    /// text is empty, as in llama2.c's `encode`.
    public func encode(_ text: String) -> [Int] {
        guard !text.isEmpty else { return [] }
        var ids: [Int32] = [byteToken[Int(UInt8(ascii: " "))]]
        ids.reserveCapacity(text.utf8.count + 1)
        for b in text.utf8 { ids.append(byteToken[Int(b)]) }
        var merger = BPEMerger()
        merger.merge(&ids, pairs: merges)
        return ids.map(Int.init)
    }

    /// The bytes of `token`: the byte itself for `<0xHH>` tokens, the stored text otherwise
    /// (empty for an id outside the vocabulary).
    public func bytes(of token: Int) -> [UInt8] {
        decoded.indices.contains(token) ? decoded[token] : []
    }

    /// <unk>, BOS and EOS (ids 0–2), as SentencePiece's control and unknown pieces.
    public func isSpecial(_ token: Int) -> Bool { (0..<3).contains(token) }
}
