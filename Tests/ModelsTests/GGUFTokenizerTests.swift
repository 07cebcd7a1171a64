import Foundation
import Models
import TestSupport
import XCTest

/// Tokenizers read from GGUF metadata: Mistral 7B's SentencePiece model as llama.cpp stores it
/// (`llama`, Tests/Fixtures/tokenizers/mistral/tokenizer.gguf) against SentencePiece itself, and
/// Llama 3's vocabulary as `gpt2` metadata with the `llama-bpe`, `qwen2` and `gpt2`
/// pre-tokenizers against Hugging Face with the corresponding regex (sentencepiece_ids.py,
/// real_tokenizer_ids.py).
final class GGUFTokenizerTests: XCTestCase {
    struct SentencePieceCase: Decodable {
        var text: String
        var ids: [Int]
        var decoded: String
    }

    struct SentencePieceFixture: Decodable {
        var cases: [SentencePieceCase]
    }

    func testSentencePieceGGUFMatchesSentencePiece() throws {
        let tok = try GGUFFile(contentsOf: TokenizerFixtures.url("mistral/tokenizer.gguf")).tokenizer()
        XCTAssertEqual(tok.vocabSize, 32000)
        XCTAssertEqual(tok.bosToken, 1)
        XCTAssertEqual(tok.eosToken, 2)
        XCTAssertTrue(tok.addsBOSByDefault)
        let fixture: SentencePieceFixture = try TokenizerFixtures.load("mistral_spm_ids.json")
        for c in fixture.cases {
            XCTAssertEqual(tok.encode(c.text), c.ids, c.text.debugDescription)
            // SentencePiece decodes control tokens to nothing and <unk> to " ⁇ "; HF's chain (which
            // this follows) spells them out.
            if !c.ids.contains(where: { $0 < 3 }) { XCTAssertEqual(tok.decode(c.ids), c.decoded, c.text.debugDescription) }
        }
    }

    /// The GGUF and the tokenizer.json of the same SentencePiece model agree, added tokens and decodes included.
    func testSentencePieceGGUFMatchesItsTokenizerJSON() throws {
        let tok = try GGUFFile(contentsOf: TokenizerFixtures.url("mistral/tokenizer.gguf")).tokenizer()
        let fixture: TokenizerFixtures.Real = try TokenizerFixtures.load("mistral_ids.json")
        TokenizerFixtures.check(tok, fixture.cases)
        for c in fixture.invalid { XCTAssertEqual(tok.encode(c.text), c.ids) }
    }

    func testLlama3PreTokenizerMatchesHuggingFace() throws {
        let tok = try Self.llama3GGUF(pre: "llama-bpe")
        XCTAssertTrue(tok.addsBOSByDefault, "llama.cpp's default for the Llama 3 pre-tokenizer")
        let fixture: TokenizerFixtures.Real = try TokenizerFixtures.load("llama3_ids.json")
        TokenizerFixtures.check(tok, fixture.cases.map { var c = $0; c.decoded = nil; c.decoded_skipping_special = nil; return c })
    }

    func testQwen2PreTokenizerMatchesHuggingFace() throws {
        let tok = try Self.llama3GGUF(pre: "qwen2")
        XCTAssertFalse(tok.addsBOSByDefault)
        XCTAssertEqual(tok.encode("12345").count, 5, "single digits")
        let fixture: TokenizerFixtures.Real = try TokenizerFixtures.load("llama3_ids.json")
        for c in try XCTUnwrap(fixture.qwen2_regex) { XCTAssertEqual(tok.encode(c.text), c.ids, c.text.debugDescription) }
    }

    func testGPT2PreTokenizerMatchesHuggingFace() throws {
        let tok = try Self.llama3GGUF(pre: "gpt2")
        let fixture: TokenizerFixtures.Real = try TokenizerFixtures.load("llama3_ids.json")
        for c in try XCTUnwrap(fixture.gpt2_regex) { XCTAssertEqual(tok.encode(c.text), c.ids, c.text.debugDescription) }
    }

    func testUnsupportedGGUFTokenizersAreRejected() throws {
        func gguf(_ metadata: [String: GGUFValue], _ name: String) throws -> URL {
            var w = GGUFWriter()
            for (k, v) in metadata { w.set(k, v) }
            let url = try Fixtures.temporaryDirectory(name).appendingPathComponent("\(name).gguf")
            try w.write(to: url)
            return url
        }
        let bert = try gguf(["tokenizer.ggml.model": .string("bert")], "bert")
        XCTAssertThrowsError(try GGUFFile(contentsOf: bert).tokenizer()) { error in
            XCTAssertEqual(error as? ModelFormatError, .invalidConfig(file: bert.path, field: "tokenizer.ggml.model",
                                                                      reason: "tokenizer model 'bert' is not supported (only 'gpt2' and 'llama')"))
        }
        let pre = try gguf(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("deepseek-llm")], "pre")
        XCTAssertThrowsError(try GGUFFile(contentsOf: pre).tokenizer()) { error in
            XCTAssertEqual(error as? ModelFormatError, .invalidConfig(
                file: pre.path, field: "tokenizer.ggml.pre",
                reason: "pre-tokenizer 'deepseek-llm' is not supported (supported: gpt2, gpt-2, smollm, llama-bpe, llama3, llama-v3, qwen2)"))
        }
        let scores = try gguf(["tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": .array(["<unk>", "<s>", "</s>"].map(GGUFValue.string)),
                               "tokenizer.ggml.scores": .array([.float32(0)])], "scores")
        XCTAssertThrowsError(try GGUFFile(contentsOf: scores).tokenizer()) { error in
            XCTAssertEqual(error as? ModelFormatError, .invalidConfig(file: scores.path, field: "tokenizer.ggml.scores",
                                                                      reason: "1 scores for 3 tokens"))
        }
    }

    /// Llama 3's vocabulary as llama.cpp's converter stores it (tokens, merges, types: control for
    /// the special tokens) with `pre`, written to a GGUF and read back.
    static func llama3GGUF(pre: String, _ name: String = #function) throws -> BPETokenizer {
        let (tokens, merges, types) = try llama3Metadata.get()
        var w = GGUFWriter()
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string(pre))
        w.set("tokenizer.ggml.tokens", .array(tokens.map(GGUFValue.string)))
        w.set("tokenizer.ggml.merges", .array(merges.map(GGUFValue.string)))
        w.set("tokenizer.ggml.token_type", .array(types.map { .int32(Int32($0)) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(128_000))
        w.set("tokenizer.ggml.eos_token_id", .uint32(128_001))
        let url = try Fixtures.temporaryDirectory(name + pre).appendingPathComponent("tokenizer.gguf")
        try w.write(to: url)
        return try GGUFFile(contentsOf: url).tokenizer()
    }

    private static let llama3Metadata = Result(catching: { () throws -> ([String], [String], [Int]) in
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerFixtures.url("llama3/tokenizer.json"))) as? [String: Any])
        let model = try XCTUnwrap(json["model"] as? [String: Any])
        let vocab = try XCTUnwrap(model["vocab"] as? [String: Int])
        var tokens = [String](repeating: "", count: vocab.count)
        for (t, id) in vocab { tokens[id] = t }
        var types = [Int](repeating: 1, count: tokens.count)
        for added in try XCTUnwrap(json["added_tokens"] as? [[String: Any]]) {
            tokens.append(try XCTUnwrap(added["content"] as? String))
            types.append(3)
        }
        let merges = try XCTUnwrap(model["merges"] as? [[String]]).map { $0.joined(separator: " ") }
        return (tokens, merges, types)
    })
}
