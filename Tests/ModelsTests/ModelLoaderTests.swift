import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// Format dispatch, tokenizer selection, and loading the full SmolLM2 GGUF.
final class ModelLoaderTests: XCTestCase {
    func testRecognisesFormats() throws {
        XCTAssertEqual(try ModelLoader.format(of: Fixtures.stories260K), .llama2c)
        XCTAssertEqual(try ModelLoader.format(of: FormatFixtures.url("types.gguf")), .gguf)
        XCTAssertEqual(try ModelLoader.format(of: FormatFixtures.url("hf-f32")), .huggingFace)
        let missing = FormatFixtures.url("no-such-model.gguf")
        XCTAssertEqual(expectFormatError(mentions: ["no-such-model.gguf"]) { _ = try ModelLoader.load(missing) },
                       .fileNotFound(file: missing.path))
    }

    func testLoadsLlama2CWithTokenizerBesideIt() throws {
        let m = try ModelLoader.load(Fixtures.stories260K)
        XCTAssertEqual(m.config.dim, 64)
        XCTAssertEqual(m.config.ropeStyle, .interleaved)
        XCTAssertTrue(m.tokenizer is Llama2CTokenizer)
        XCTAssertEqual(m.tokenizer.vocabSize, 512)
        XCTAssertEqual(m.source, Fixtures.stories260K)
        XCTAssertTrue(try ModelLoader.loadTokenizer(Fixtures.stories260K) is Llama2CTokenizer)
    }

    func testLlama2CWithoutTokenizerNamesWhereItLooked() throws {
        let dir = try Fixtures.temporaryDirectory()
        let lone = dir.appendingPathComponent("model.bin")
        try FileManager.default.copyItem(at: Fixtures.stories260K, to: lone)
        let e = expectFormatError(mentions: ["tok512.bin", "tokenizer.bin"]) { _ = try ModelLoader.load(lone) }
        guard case .fileNotFound? = e else { return XCTFail("\(String(describing: e))") }
        let m = try ModelLoader.load(lone, tokenizer: Fixtures.stories260KTokenizer)
        XCTAssertEqual(m.tokenizer.vocabSize, 512)
    }

    func testLoadsHuggingFaceFolder() throws {
        let folder = FormatFixtures.url("hf-f32")
        let m = try ModelLoader.load(folder)
        XCTAssertEqual(m.config.ropeStyle, .rotateHalf)
        XCTAssertTrue(m.config.tiedEmbeddings)
        XCTAssertTrue(m.tokenizer is BPETokenizer)
        XCTAssertEqual(m.tokenizer.vocabSize, 512)
        XCTAssertEqual(m.tokenizer.bosToken, 1)
        // a tokenizer named by the caller replaces the folder's own
        XCTAssertTrue(try ModelLoader.loadTokenizer(folder, tokenizer: Fixtures.stories260KTokenizer) is Llama2CTokenizer)
    }

    func testGGUFTokenizerMustBeByteLevelBPE() throws {
        var b = GGUFBytes(tensors: 0, kvs: 1)
        b.string("tokenizer.ggml.model")
        b.u32(8)
        b.string("llama")
        let url = try FormatFixtures.write(b.data, name: "spm.gguf")
        let e = expectFormatError(mentions: ["spm.gguf", "tokenizer.ggml.model", "llama"]) {
            _ = try GGUFFile(contentsOf: url).byteLevelBPETokenizer()
        }
        guard case .invalidConfig(_, "tokenizer.ggml.model", _)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(expectFormatError(mentions: ["types.gguf", "llama.attention.head_count"]) {
            _ = try GGUFFile(contentsOf: FormatFixtures.url("types.gguf")).llamaConfig()
        }, .missingField(file: FormatFixtures.url("types.gguf").path, field: "llama.attention.head_count"))
    }

    func testLoadsSmolLM2() throws {
        let url = try Fixtures.smolLM2()
        let start = Date()
        let m = try ModelLoader.load(url)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "SmolLM2-135M Q4_1 GGUF loaded (weights dequantized + tokenizer) in %.3f s", seconds))

        let tokStart = Date()
        let tok = try ModelLoader.loadTokenizer(url)
        print(String(format: "SmolLM2-135M tokenizer alone loaded in %.3f s", Date().timeIntervalSince(tokStart)))
        XCTAssertEqual(tok.vocabSize, 49152)

        var c = m.config
        XCTAssertEqual(c.normEps, 1e-5, accuracy: 1e-10)
        c.normEps = 1e-5
        XCTAssertEqual(c, LlamaConfig(dim: 576, hiddenDim: 1536, layerCount: 30, headCount: 9, kvHeadCount: 3, vocabSize: 49152,
                                      contextLength: 8192, ropeTheta: 100_000, normEps: 1e-5, ropeStyle: .interleaved,
                                      tiedEmbeddings: true))
        XCTAssertNil(m.weights.output)
        XCTAssertTrue(m.tokenizer is BPETokenizer)
        XCTAssertEqual(m.tokenizer.bosToken, 1)
        XCTAssertEqual(m.tokenizer.eosToken, 2)
        XCTAssertFalse(m.tokenizer.addsBOSByDefault)

        // rows of the row-major matrices are GGUF's output rows: check against gguf's dequantization
        let values = try XCTUnwrap(FormatFixtures.json("smollm2_reference.json")["values"] as? [String: Any])
        try TensorSummary(values["token_embd.weight[100]"]).check(m.weights.tokenEmbedding.row(100), "embedding row 100")
        try TensorSummary(values["blk.0.attn_q.weight[5]"]).check(m.weights.layers[0].wq.row(5), "layer 0 wq row 5")
        try TensorSummary(values["blk.29.ffn_down.weight"]).check(m.weights.layers[29].down.storage, "layer 29 down")
        try TensorSummary(values["output_norm.weight"]).check(m.weights.finalNorm, "final norm")
    }
}
