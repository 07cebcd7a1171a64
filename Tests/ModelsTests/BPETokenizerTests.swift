import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Byte-level BPE against Hugging Face `tokenizers` (Tests/Fixtures/tokenizers/smollm2_ids.py and
/// tiny_bpe.py), exact round trips of arbitrary text and bytes, and the errors for bad tokenizer.json
/// and GGUF metadata.
final class BPETokenizerTests: XCTestCase {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var ids_with_bos: [Int]?
    }

    struct SmolFixture: Decodable {
        struct WikiText: Decodable {
            var tokens: Int
            var fnv1a64_uint32le: String
        }
        var missing_byte_symbols: [UInt8]
        var cases: [Case]
        var wikitext2_test: WikiText
    }

    struct TinyFixture: Decodable {
        var vocab_size: Int
        var bos: Int
        var eos: Int
        var cases: [Case]
    }

    static func fixture<T: Decodable>(_ name: String) throws -> T {
        try Fixtures.json("Tests/Fixtures/tokenizers/\(name)")
    }

    static var tinyTokenizerJSON: URL { Fixtures.url("Tests/Fixtures/tokenizers/tiny_bpe/tokenizer.json") }

    static func smolLM2() throws -> any Tokenizer { try ModelLoader.loadTokenizer(Fixtures.smolLM2()) }

    // MARK: Reference ids

    func testSmolLM2MatchesHuggingFaceTokenizers() throws {
        let tok = try Self.smolLM2()
        let fixture: SmolFixture = try Self.fixture("smollm2_ids.json")
        XCTAssertEqual(tok.encode("\n\n3"), [1116, 35], "digits must be split before the whitespace rule")
        XCTAssertEqual(tok.vocabSize, 49152)
        XCTAssertEqual(tok.bosToken, 1)
        XCTAssertEqual(tok.eosToken, 2)
        XCTAssertFalse(tok.addsBOSByDefault)
        for c in fixture.cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, "text \(c.text.debugDescription)")
        }
    }

    func testSmolLM2WikiText2MatchesHuggingFaceTokenizers() throws {
        let tok = try Self.smolLM2()
        let fixture: SmolFixture = try Self.fixture("smollm2_ids.json")
        let text = try TokenizerFixtures.wikiText2Test()
        let start = Date()
        let ids = tok.encode(text)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "SmolLM2 tokenizer: WikiText-2 test (%d bytes) → %d tokens in %.3f s (%.1f MB/s)",
                     text.utf8.count, ids.count, seconds, Double(text.utf8.count) / seconds / 1e6))
        XCTAssertEqual(ids.count, fixture.wikitext2_test.tokens)
        XCTAssertEqual(TokenizerFixtures.fnv1a64(ids), fixture.wikitext2_test.fnv1a64_uint32le)
    }

    func testTokenizerJSONMatchesHuggingFaceTokenizers() throws {
        let tok = try BPETokenizer(tokenizerJSON: Self.tinyTokenizerJSON)
        let fixture: TinyFixture = try Self.fixture("tiny_bpe_ids.json")
        XCTAssertEqual(tok.vocabSize, fixture.vocab_size)
        XCTAssertEqual(tok.bosToken, fixture.bos, "BOS from the post_processor template")
        XCTAssertEqual(tok.eosToken, fixture.eos, "EOS from tokenizer_config.json")
        XCTAssertTrue(tok.addsBOSByDefault, "the template puts <s> first")
        for c in fixture.cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, "text \(c.text.debugDescription)")
            XCTAssertEqual(tok.encode(c.text, addBOS: true), c.ids_with_bos, "text \(c.text.debugDescription)")
        }
    }

    // MARK: Round trips

    /// Both tokenizers: SmolLM2 (whose vocabulary lacks some byte symbols) and the tiny one (which
    /// has all 256).
    static func tokenizers() throws -> [BPETokenizer] {
        [try XCTUnwrap(try smolLM2() as? BPETokenizer), try BPETokenizer(tokenizerJSON: tinyTokenizerJSON)]
    }

    func testMissingByteSymbolsAreTheVocabularysGaps() throws {
        let (smol, tiny) = try (Self.tokenizers()[0], Self.tokenizers()[1])
        XCTAssertEqual(smol.missingBytes, Set((try Self.fixture("smollm2_ids.json") as SmolFixture).missing_byte_symbols))
        XCTAssertEqual(tiny.missingBytes, [])
    }

    func testDecodeInvertsEncodeForArbitraryText() throws {
        var rng = SeededRandom(seed: 7)
        var texts = (try Self.fixture("smollm2_ids.json") as SmolFixture).cases.map(\.text)
        texts += ["\u{0}", "\u{0}\u{0} \u{0}", "\u{10FFFF}\u{FFFE}\u{E000}", "a\u{FFFD}b", "\u{202E}RTL override\u{202C}"]
        texts += (0..<300).map { _ in TokenizerFixtures.randomText(&rng, length: Int.random(in: 1...60, using: &rng)) }
        texts.append(String(decoding: [0xFF, 0xC3, 0x28, 0xE2, 0x82, 0x41, 0xF0, 0x9F, 0x98, 0xED, 0xA0, 0x80], as: UTF8.self))
        for tok in try Self.tokenizers() {
            for text in texts {
                let expected = String(decoding: text.utf8.filter { !tok.missingBytes.contains($0) }, as: UTF8.self)
                XCTAssertEqual(tok.decode(tok.encode(text)), expected, "text \(text.debugDescription)")
            }
        }
    }

    /// Hugging Face's `decode(ids, skip_special_tokens=True)`: control tokens (special added tokens)
    /// go, user-defined added tokens stay.
    func testDecodeSkippingSpecialDropsControlTokensOnly() throws {
        let (smol, tiny) = try (Self.tokenizers()[0], Self.tokenizers()[1])
        let chat = "<|im_start|>user\n#### 18<|im_end|><|endoftext|>"
        XCTAssertEqual(smol.decode(smol.encode(chat)), chat)
        XCTAssertEqual(smol.decode(smol.encode(chat), skippingSpecial: true), "user\n#### 18")
        let note = "<s>[NOTE] a<|user|> b</s>"
        XCTAssertEqual(tiny.decode(tiny.encode(note), skippingSpecial: true), "[NOTE] a b")
    }

    func testEncodeBytesInvertsExactlyEvenForInvalidUTF8() throws {
        var rng = SeededRandom(seed: 11)
        var inputs: [[UInt8]] = [[], [0x80], [0xFF, 0xFE], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                                 Array("<|im_start|>".utf8) + [0xE2, 0x82] + Array("<|im_end|>".utf8)]
        inputs += (0..<300).map { _ in (0..<Int.random(in: 1...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        for tok in try Self.tokenizers() {
            for bytes in inputs {
                let ids = tok.encode(bytes: bytes)
                XCTAssertEqual(ids.flatMap { tok.bytes(of: $0) }, bytes.filter { !tok.missingBytes.contains($0) }, "bytes \(bytes)")
            }
            for _ in 0..<100 {
                let text = TokenizerFixtures.randomText(&rng, length: 40)
                XCTAssertEqual(tok.encode(bytes: Array(text.utf8)), tok.encode(text), "text \(text.debugDescription)")
            }
        }
    }

    // MARK: Errors

    /// The tiny tokenizer.json after `edit`, written to a temporary folder.
    private func editedTokenizerJSON(_ edit: (inout [String: Any]) -> Void, name: String = #function) throws -> URL {
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.tinyTokenizerJSON)) as? [String: Any])
        edit(&json)
        let url = try Fixtures.temporaryDirectory(name).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    private func assertThrows(_ expected: (String) -> ModelFormatError, _ url: URL, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try BPETokenizer(tokenizerJSON: url), file: file, line: line) { error in
            XCTAssertEqual(error as? ModelFormatError, expected(url.path), "\(error)", file: file, line: line)
        }
    }

    func testUnknownModelTypeIsRejected() throws {
        let url = try editedTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            model["type"] = "WordPiece"
            json["model"] = model
        }
        assertThrows({ .invalidConfig(file: $0, field: "model.type", reason: "unsupported model type 'WordPiece' (only BPE)") }, url)
    }

    func testMissingVocabularyIsRejected() throws {
        let url = try editedTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            model["vocab"] = nil
            json["model"] = model
        }
        assertThrows({ .missingField(file: $0, field: "model.vocab") }, url)
    }

    func testMergeOfUnknownTokenIsRejected() throws {
        let url = try editedTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            var merges = model["merges"] as! [Any]
            merges[3] = ["Ġ", "zzz"]
            model["merges"] = merges
            json["model"] = model
        }
        assertThrows({ .invalidConfig(file: $0, field: "model.merges[3]",
                                      reason: "token 'zzz' of merge 'Ġ zzz' is not in the vocabulary") }, url)
    }

    func testUnsupportedPreTokenizerIsRejected() throws {
        let url = try editedTokenizerJSON { json in
            json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Whitespace"], ["type": "ByteLevel"]]]
        }
        assertThrows({ .invalidConfig(file: $0, field: "pre_tokenizer.pretokenizers[0].type",
                                      reason: "unsupported pre-tokenizer 'Whitespace' (supported: Sequence, Split, Digits, Metaspace, ByteLevel)") }, url)
    }

    func testUnsupportedNormalizerIsRejected() throws {
        let url = try editedTokenizerJSON { json in json["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "Lowercase"]]] }
        assertThrows({ .invalidConfig(file: $0, field: "normalizer.normalizers[1].type",
                                      reason: "unsupported normalizer 'Lowercase' (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD)") }, url)
    }

    func testMalformedJSONIsRejected() throws {
        let url = try Fixtures.temporaryDirectory().appendingPathComponent("tokenizer.json")
        try Data("{\"model\": ".utf8).write(to: url)
        XCTAssertThrowsError(try BPETokenizer(tokenizerJSON: url)) { error in
            guard case .corrupt(let file, let what, _, _)? = error as? ModelFormatError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, url.path)
            XCTAssertEqual(what, "JSON")
        }
    }

    func testInconsistentGGUFMetadataIsRejected() {
        func attempt(merges: [String] = ["a b"], types: [Int]? = nil, bos: Int? = nil) -> ModelFormatError? {
            do {
                _ = try BPETokenizer(tokens: ["a", "b", "ab"], merges: merges, tokenTypes: types, preTokenizer: .gpt2,
                                              bosToken: bos, eosToken: nil, addsBOS: false, source: "x.gguf")
                return nil
            } catch {
                return error as? ModelFormatError
            }
        }
        XCTAssertNil(attempt())
        XCTAssertEqual(attempt(types: [1, 1]),
                       .invalidConfig(file: "x.gguf", field: "tokenizer.ggml.token_type", reason: "2 token types for 3 tokens"))
        XCTAssertEqual(attempt(bos: 3),
                       .invalidConfig(file: "x.gguf", field: "tokenizer.ggml.bos_token_id", reason: "token id 3 is outside the vocabulary of 3"))
        XCTAssertEqual(attempt(merges: ["a b", "ab"]),
                       .invalidConfig(file: "x.gguf", field: "tokenizer.ggml.merges[1]", reason: "'ab' is not two tokens separated by one space"))
        XCTAssertEqual(attempt(merges: ["b a"]),
                       .invalidConfig(file: "x.gguf", field: "tokenizer.ggml.merges[0]", reason: "token 'ba' of merge 'b a' is not in the vocabulary"))
    }
}
