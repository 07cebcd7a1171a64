import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// Pre-tokenizers, normalizers and decoders one by one against Hugging Face (hf_components.py),
/// the hand-written regex scanners against both HF and the ICU engine, and the errors for
/// tokenizer.json values this implementation does not reproduce.
final class TokenizerComponentsTests: XCTestCase {
    struct Components: Decodable {
        struct PreTokenizerCase: Decodable {
            var pieces: [[String]]
            var random_pieces: [[String]]
        }
        struct NormalizerCase: Decodable { var normalized: [String] }
        struct DecoderCase: Decodable { var decoded: [String] }
        var texts: [String]
        var random_texts: [String]
        var normalizer_texts: [String]
        var token_lists: [[String]]
        var pre_tokenizers: [PreTokenizerCase]
        var normalizers: [NormalizerCase]
        var decoders: [DecoderCase]
    }

    static let file = TokenizerFixtures.url("hf_components.json")

    /// The fixture, and each section's configs as JSON nodes.
    static func load() throws -> (Components, configs: (String) throws -> [JSONNode]) {
        let data = try Data(contentsOf: file)
        let fixture = try JSONDecoder().decode(Components.self, from: data)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (fixture, { section in
            try XCTUnwrap(root[section] as? [[String: Any]]).enumerated().map {
                JSONNode(file: file.path, path: "\(section)[\($0)].config", value: try XCTUnwrap($1["config"]))
            }
        })
    }

    /// The pieces of `text` as HF's pre_tokenize_str shows them (byte-level ones in GPT-2's scalars).
    static func pieces(_ pre: PreTokenizer, _ text: String) -> [String] {
        var pieces = PreTokenizer.Pieces()
        Array(text.utf8).withUnsafeBufferPointer { pre.split($0, startsText: true, into: &pieces) }
        return (0..<pieces.count).map { i in
            let bytes = pieces.arena[Int(pieces.starts[i])..<Int(pieces.ends[i])]
            guard pre.isByteLevel else { return String(decoding: bytes, as: UTF8.self) }
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(ByteMapping.scalar[Int(b)]) }
            return String(s)
        }
    }

    func testPreTokenizersMatchHuggingFace() throws {
        let (fixture, configs) = try Self.load()
        for (i, config) in try configs("pre_tokenizers").enumerated() {
            let pre = PreTokenizer(steps: try TokenizerJSONComponents.preTokenizer(config))
            let expected = fixture.pre_tokenizers[i]
            for (text, pieces) in Array(zip(fixture.texts, expected.pieces)) + Array(zip(fixture.random_texts, expected.random_pieces)) {
                XCTAssertEqual(Self.pieces(pre, text), pieces, "\(config.path): \(text.debugDescription)")
            }
        }
    }

    /// The first three configs split with Llama 3's, Qwen2's and GPT-2's regexes: the ICU engine
    /// run on the same patterns must agree with HF too, and with the scanners on more random text.
    func testKnownPatternScannersEqualICU() throws {
        let (fixture, configs) = try Self.load()
        for (i, config) in try configs("pre_tokenizers").prefix(3).enumerated() {
            let steps = try TokenizerJSONComponents.preTokenizer(config)
            guard case .split(.known(let known), let behavior, let inverted) = steps[0] else { return XCTFail("\(config.path) is not a known pattern") }
            let icu = PreTokenizer(steps: [.split(.regex(try ICURegex(known.regex)), behavior, inverted: inverted)] + steps.dropFirst())
            let expected = fixture.pre_tokenizers[i]
            for (text, pieces) in Array(zip(fixture.texts, expected.pieces)) + Array(zip(fixture.random_texts, expected.random_pieces)) {
                XCTAssertEqual(Self.pieces(icu, text), pieces, "ICU \(known): \(text.debugDescription)")
            }
            let fast = PreTokenizer(steps: steps)
            var rng = SeededRandom(seed: UInt64(i + 1))
            for _ in 0..<1000 {
                let text = TokenizerFixtures.randomText(&rng, length: Int.random(in: 1...40, using: &rng))
                XCTAssertEqual(Self.pieces(fast, text), Self.pieces(icu, text), "\(known): \(text.debugDescription)")
            }
        }
    }

    func testNormalizersMatchHuggingFace() throws {
        let (fixture, configs) = try Self.load()
        for (i, config) in try configs("normalizers").enumerated() {
            let normalizer = try TokenizerJSONComponents.normalizer(config)
            for (text, normalized) in zip(fixture.normalizer_texts, fixture.normalizers[i].normalized) {
                XCTAssertEqual(String(decoding: normalizer.normalize(Array(text.utf8)), as: UTF8.self), normalized,
                               "\(config.path): \(text.debugDescription)")
            }
        }
    }

    func testDecodersMatchHuggingFace() throws {
        let (fixture, configs) = try Self.load()
        for (i, config) in try configs("decoders").enumerated() {
            let decoder = try TokenizerJSONComponents.decoder(config)
            for (tokens, decoded) in zip(fixture.token_lists, fixture.decoders[i].decoded) {
                XCTAssertEqual(decoder.decode(tokens), decoded, "\(config.path): \(tokens)")
            }
        }
    }

    func testOnigurumaShorthandsAreRewrittenForICU() {
        XCTAssertEqual(ICURegex.icuPattern(#"[^\s\p{L}]\S.$"#), #"[^\p{White_Space}\p{L}]\P{White_Space}[^\n](?![^\n])"#)
        XCTAssertEqual(ICURegex.icuPattern(#"^\w+[\W.]\p{^N}"#), #"(?<![^\n])[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}]+[[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}].]\P{N}"#)
        XCTAssertEqual(ICURegex.icuPattern(#"\\s\h"#), #"\\s[0-9a-fA-F]"#)
    }

    // MARK: Errors

    /// The tiny tokenizer.json after `edit`, written to a temporary folder; the error reading it.
    private func error(_ edit: (inout [String: Any]) -> Void, name: String = #function) throws -> (ModelFormatError?, String) {
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: BPETokenizerTests.tinyTokenizerJSON)) as? [String: Any])
        edit(&json)
        let url = try Fixtures.temporaryDirectory(name).appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        do {
            _ = try BPETokenizer(tokenizerJSON: url)
            return (nil, url.path)
        } catch {
            return (error as? ModelFormatError, url.path)
        }
    }

    private func model(_ json: inout [String: Any], _ key: String, _ value: Any) {
        var model = json["model"] as! [String: Any]
        model[key] = value
        json["model"] = model
    }

    func testUnsupportedValuesAreOnePreciseError() throws {
        let checks: [((inout [String: Any]) -> Void, String, String)] = [
            ({ self.model(&$0, "type", "Unigram") }, "model.type", "unsupported model type 'Unigram' (only BPE)"),
            ({ self.model(&$0, "dropout", 0.1) }, "model.dropout", "BPE dropout 0.1 is not supported"),
            ({ self.model(&$0, "continuing_subword_prefix", "##") }, "model.continuing_subword_prefix", "'##' is not supported (only null)"),
            ({ self.model(&$0, "unk_token", "<nope>") }, "model.unk_token", "'<nope>' is not in model.vocab"),
            ({ $0["decoder"] = ["type": "WordPiece", "prefix": "##"] }, "decoder.type",
             "unsupported decoder 'WordPiece' (supported: Sequence, ByteLevel, ByteFallback, Replace, Fuse, Strip, Metaspace)"),
            ({ $0["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "(?~abc)"], "behavior": "Isolated", "invert": false] },
             "pre_tokenizer.pattern.Regex", "the regex '(?~abc)' is not supported by the ICU engine"),
            ({ $0["pre_tokenizer"] = ["type": "Split", "pattern": ["String": " "], "behavior": "Merged", "invert": false] },
             "pre_tokenizer.behavior", "unknown split behavior 'Merged'"),
            ({ $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "ByteLevel"], ["type": "Digits"]]] },
             "pre_tokenizer.pretokenizers[0]", "a pre-tokenizer after ByteLevel is not supported (ByteLevel must be the last step)"),
            ({ $0["post_processor"] = ["type": "TemplateProcessing", "single": [["Sequence": ["id": "A", "type_id": 0]], ["SpecialToken": ["id": "</s>", "type_id": 0]]],
                                       "special_tokens": ["</s>": ["id": "</s>", "ids": [1], "tokens": ["</s>"]]]] },
             "post_processor.single[1]", "a template adding '</s>' after the text is not supported (only a BOS before it)"),
            ({ $0["post_processor"] = ["type": "RobertaProcessing"] }, "post_processor.type",
             "unsupported post-processor 'RobertaProcessing' (supported: ByteLevel, TemplateProcessing, Sequence)"),
        ]
        for (edit, field, reason) in checks {
            let (error, file) = try self.error(edit, name: field)
            guard case .invalidConfig(let f, let fld, let why)? = error else { XCTFail("\(field): \(String(describing: error))"); continue }
            XCTAssertEqual(f, file)
            XCTAssertEqual(fld, field)
            XCTAssertTrue(why.hasPrefix(reason), "\(field): \(why)")
        }
    }
}
