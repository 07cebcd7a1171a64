import Foundation
import XCTest
@testable import Export
import Models
import TestSupport

/// The tokenizer.json written from GGUF keys, against the real Hugging Face file they came from:
/// Tests/Fixtures/families/llama3/model.gguf is llama.cpp's converter output of a folder holding
/// Tests/Fixtures/tokenizers/llama3/tokenizer.json (Llama 3's byte-level BPE, BOS template,
/// `ignore_merges`), so writing it back must give that file's pre-tokenizer, post-processor,
/// decoder, model settings, merges, vocabulary and added tokens.
final class HuggingFaceTokenizerFilesTests: XCTestCase {
    /// `object` as canonical JSON (sorted keys), for comparing parsed trees.
    private func canonical(_ object: Any?) throws -> String {
        let value = try XCTUnwrap(object)
        return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    func testLlama3GGUFKeysGiveBackHuggingFacesTokenizerJSON() throws {
        let gguf = try GGUFFile(contentsOf: Fixtures.url("Tests/Fixtures/families/llama3/model.gguf"))
        let keys = gguf.metadata.filter { $0.key.hasPrefix("tokenizer.") }.map { ($0.key, $0.value) }
        let files = try HuggingFaceTokenizerFiles(keys, file: gguf.url.path, contextLength: 2048)
        let dir = try Fixtures.temporaryDirectory()
        try files.write(into: dir)
        func json(_ url: URL) throws -> [String: Any] { try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]) }
        let mine = try json(dir.appendingPathComponent("tokenizer.json"))
        let theirs = try json(Fixtures.url("Tests/Fixtures/tokenizers/llama3/tokenizer.json"))
        for key in ["pre_tokenizer", "post_processor", "decoder", "normalizer"] {
            XCTAssertEqual(try canonical(mine[key]), try canonical(theirs[key]), key)
        }
        var myModel = try XCTUnwrap(mine["model"] as? [String: Any]), theirModel = try XCTUnwrap(theirs["model"] as? [String: Any])
        let myVocab = try XCTUnwrap(myModel.removeValue(forKey: "vocab") as? [String: Int])
        let theirVocab = try XCTUnwrap(theirModel.removeValue(forKey: "vocab") as? [String: Int])
        let myMerges = try XCTUnwrap(myModel.removeValue(forKey: "merges") as? [String])
        let theirMerges = try XCTUnwrap(theirModel.removeValue(forKey: "merges") as? [[String]]).map { $0.joined(separator: " ") }
        XCTAssertEqual(try canonical(myModel), try canonical(theirModel))
        XCTAssertEqual(myMerges, theirMerges)
        // GGUF lists the added tokens in its vocabulary too; below them, the vocabularies are equal.
        XCTAssertEqual(myVocab.filter { $0.value < theirVocab.count }, theirVocab)
        func added(_ tree: [String: Any]) throws -> [String] {
            try XCTUnwrap(tree["added_tokens"] as? [[String: Any]]).map { try canonical($0) }
        }
        XCTAssertEqual(try added(mine), try added(theirs))
        XCTAssertEqual(myVocab.count, theirVocab.count + (try added(theirs)).count)

        let config = try json(dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertEqual(config["bos_token"] as? String, "<|begin_of_text|>")
        XCTAssertEqual(config["eos_token"] as? String, "<|end_of_text|>")
        XCTAssertEqual(config["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
    }
}
