import Foundation
import Models
import TestSupport
import XCTest

/// llama2.c's tokenizer against the NumPy reference's `encode` (Tests/Fixtures/tokenizers/llama2c_ids.py),
/// against a naive rescanning merge loop on long text, and its errors for damaged files.
final class Llama2CTokenizerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int]
        }
        var cases: [Case]
    }

    static func tokenizer() throws -> Llama2CTokenizer {
        try Llama2CTokenizer(contentsOf: Fixtures.stories260KTokenizer, vocabSize: 512)
    }

    func testMatchesReferenceEncode() throws {
        let tok = try Self.tokenizer()
        let fixture = try Fixtures.json("Tests/Fixtures/tokenizers/llama2c_ids.json", as: Fixture.self)
        XCTAssertEqual(tok.vocabSize, 512)
        XCTAssertEqual(tok.bosToken, 1)
        XCTAssertEqual(tok.eosToken, 2)
        XCTAssertTrue(tok.addsBOSByDefault)
        for c in fixture.cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, "text \(c.text.debugDescription)")
            XCTAssertEqual(tok.encode(c.text, addBOS: true), [1] + c.ids)
        }
        XCTAssertEqual(tok.encode(""), [], "no dummy prefix for empty text, as in llama2.c")
    }

    func testDecodeInvertsEncodeAfterTheDummySpace() throws {
        let tok = try Self.tokenizer()
        for text in ["Once upon a time", "emoji 👨‍👩‍👧 and 🇫🇷", "e\u{301} ñ € “quotes”", "\u{0}\u{1}\t\n", "日本語", "a\u{FFFD}b"] {
            XCTAssertEqual(tok.decode(tok.encode(text)), " " + text, "text \(text.debugDescription)")
        }
        XCTAssertEqual(tok.bytes(of: 3 + 0xE2), [0xE2], "byte tokens decode to their byte")
        XCTAssertEqual(tok.bytes(of: 512), [], "ids outside the vocabulary decode to nothing")
    }

    /// The heap-based merge must pick exactly the pairs the reference's rescanning loop picks,
    /// including ties, on text long enough to exercise many merges per position.
    func testMatchesNaiveMergeLoopOnLongTextAndIsFast() throws {
        let tok = try Self.tokenizer()
        let pieces = try Self.pieces()
        let sentence = "Once upon a time, a little girl named Lily found a shiny red ball in the park. “Can I play?” she asked. "
        let long = String(repeating: sentence, count: 1000)  // ~100 KB
        let start = Date()
        let ids = tok.encode(long)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "llama2.c tokenizer: %d bytes → %d tokens in %.3f s", long.utf8.count, ids.count, seconds))
        XCTAssertLessThan(seconds, 1.0)
        XCTAssertEqual(tok.decode(ids), " " + long)

        let medium = String(repeating: sentence, count: 5)
        XCTAssertEqual(tok.encode(medium), Self.naiveEncode(medium, pieces: pieces))
    }

    /// Token texts and scores read straight from the file, for the naive reference below.
    static func pieces() throws -> [(bytes: [UInt8], score: Float)] {
        let data = [UInt8](try Data(contentsOf: Fixtures.stories260KTokenizer))
        func int32(_ o: Int) -> UInt32 { data[o..<o + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        var o = 4
        var out: [(bytes: [UInt8], score: Float)] = []
        for _ in 0..<512 {
            let score = Float(bitPattern: int32(o)), n = Int(int32(o + 4))
            out.append((Array(data[o + 8..<o + 8 + n]), score))
            o += 8 + n
        }
        return out
    }

    /// The reference algorithm as l2c.py writes it: rescan all pairs after every merge.
    static func naiveEncode(_ text: String, pieces: [(bytes: [UInt8], score: Float)]) -> [Int] {
        var idOf: [[UInt8]: Int] = [:]
        for (i, p) in pieces.enumerated() { idOf[p.bytes] = i }
        var toks = Array((" " + text).utf8).map { idOf[[$0]] ?? Int($0) + 3 }
        while true {
            var best: Float = -1e10, at = -1, merged = -1
            for i in 0..<(toks.count - 1) {
                if let m = idOf[pieces[toks[i]].bytes + pieces[toks[i + 1]].bytes], pieces[m].score > best {
                    (best, at, merged) = (pieces[m].score, i, m)
                }
            }
            if at < 0 { return toks }
            toks.replaceSubrange(at...at + 1, with: [merged])
        }
    }

    // MARK: Errors

    private func damaged(_ edit: (inout [UInt8]) -> Void, name: String = #function) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: Fixtures.stories260KTokenizer))
        edit(&bytes)
        let url = try Fixtures.temporaryDirectory(name).appendingPathComponent("tok512.bin")
        try Data(bytes).write(to: url)
        return url
    }

    private func assertThrows(_ expected: (String) -> ModelFormatError, _ url: URL, vocabSize: Int = 512,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Llama2CTokenizer(contentsOf: url, vocabSize: vocabSize), file: file, line: line) { error in
            XCTAssertEqual(error as? ModelFormatError, expected(url.path), "\(error)", file: file, line: line)
        }
    }

    // Layout: 4-byte header, then tokens 0 "<unk>" (8+5 bytes), 1 "\n<s>\n" (8+5), 2 "\n</s>\n" (8+6),
    // 3... "<0x00>"... (8+6 each): token 3 starts at 44, token 7 at 100.

    func testTruncatedInsideATokenTextIsReported() throws {
        let url = try damaged { $0.removeSubrange(95...) }
        assertThrows({ .truncated(file: $0, what: "text of token 6", offset: 94, needed: 6, fileSize: 95) }, url)
    }

    func testTruncatedAtATokenBoundaryIsReported() throws {
        let url = try damaged { $0.removeSubrange(100...) }
        assertThrows({ .truncated(file: $0, what: "score of token 7", offset: 100, needed: 4, fileSize: 100) }, url)
    }

    func testTruncatedHeaderIsReported() throws {
        let url = try damaged { $0.removeSubrange(2...) }
        assertThrows({ .truncated(file: $0, what: "max token length", offset: 0, needed: 4, fileSize: 2) }, url)
    }

    func testImpossibleTokenLengthIsReported() throws {
        let url = try damaged { $0.replaceSubrange(48..<52, with: [0xE8, 0x03, 0, 0]) }  // token 3's length = 1000
        let maxLength = try Self.pieces().map(\.bytes.count).max()!
        assertThrows({ .corrupt(file: $0, what: "length of token 3", offset: 48,
                                reason: "1000 is outside 0...\(maxLength) (the max token length)") }, url)
    }

    func testMissingByteFallbackTokenIsReported() throws {
        let url = try damaged { $0.replaceSubrange(52..<58, with: Array("<0xZZ>".utf8)) }  // token 3 was <0x00>
        assertThrows({ .corrupt(file: $0, what: "vocabulary", offset: 4, reason: "no byte-fallback token <0x00>") }, url)
    }

    func testVocabularyLargerThanTheFileIsReported() throws {
        let url = Fixtures.stories260KTokenizer
        XCTAssertThrowsError(try Llama2CTokenizer(contentsOf: url, vocabSize: 513)) { error in
            XCTAssertEqual(error as? ModelFormatError,
                           .truncated(file: url.path, what: "score of token 512", offset: 6227, needed: 4, fileSize: 6227))
        }
    }

    func testMissingFileIsReported() {
        let url = URL(fileURLWithPath: "/nonexistent/tok512.bin")
        assertThrows({ .fileNotFound(file: $0) }, url)
    }
}
