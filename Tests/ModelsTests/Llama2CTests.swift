import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// The llama2.c v0 reader against stories260K and values computed with NumPy
/// (Tests/Fixtures/formats/make_stories260K_fixtures.py).
final class Llama2CTests: XCTestCase {
    let url = Fixtures.stories260K

    func testStories260KConfig() throws {
        let w = try Llama2C.weights(contentsOf: url)
        XCTAssertEqual(w.config, LlamaConfig(dim: 64, hiddenDim: 172, layerCount: 5, headCount: 8, kvHeadCount: 4,
                                             vocabSize: 512, contextLength: 512, ropeTheta: 10000, normEps: 1e-5,
                                             ropeStyle: .interleaved, tiedEmbeddings: true))
        XCTAssertNil(w.output)
        XCTAssertEqual(try Llama2C.config(contentsOf: url), w.config)
    }

    func testValuesMatchNumPy() throws {
        let w = try Llama2C.weights(contentsOf: url)
        let ref = try FormatFixtures.json("stories260K_reference.json")
        XCTAssertEqual(ref["header"] as? [Int], [64, 172, 5, 8, 4, 512, 512])
        let values = try XCTUnwrap(ref["values"] as? [String: Any])
        XCTAssertEqual(values.count, 12)
        for (label, summary) in values {
            try TensorSummary(summary).check(try Self.values(label, in: w), label)
        }
    }

    /// A negative vocabulary size in the header means the classifier follows the RoPE tables.
    func testUntiedClassifier() throws {
        var bytes = try Data(contentsOf: url)
        bytes.replaceSubrange(20..<24, with: withUnsafeBytes(of: Int32(-512).littleEndian) { Array($0) })
        let classifier = (0..<(512 * 64)).map { Float($0 % 97) - 48 }
        bytes.append(classifier.withUnsafeBytes { Data($0) })
        let untied = try FormatFixtures.write(bytes, name: "untied.bin")
        let w = try Llama2C.weights(contentsOf: untied)
        XCTAssertFalse(w.config.tiedEmbeddings)
        XCTAssertEqual(w.output, Matrix(rows: 512, cols: 64, storage: classifier))
        XCTAssertEqual(w.tokenEmbedding, try Llama2C.weights(contentsOf: url).tokenEmbedding)
    }

    func testTruncationNamesTheArray() throws {
        let bytes = try Data(contentsOf: url)
        let floats = 28 / 4
        // offsets (in floats) of arrays in the stacked layout of stories260K
        let w2Start = floats + 512 * 64 + 5 * 64 + 5 * 64 * 64 + 2 * 5 * 32 * 64 + 5 * 64 * 64 + 5 * 64 + 5 * 172 * 64
        for (cut, what) in [(10, "header field n_layers"), (28 + 100, "token_embedding_table"), (w2Start * 4 + 8, "w2"),
                            (bytes.count - 4, "RoPE tables")] {
            let u = try FormatFixtures.write(bytes.prefix(cut), name: "cut\(cut).bin")
            let e = expectFormatError(mentions: ["cut\(cut).bin", what]) { _ = try Llama2C.weights(contentsOf: u) }
            guard case .truncated? = e else { return XCTFail("cut at \(cut): \(String(describing: e))") }
        }
        let long = try FormatFixtures.write(bytes + Data([0, 0, 0, 0]), name: "long.bin")
        guard case .corrupt? = expectFormatError(mentions: ["long.bin", "trailing"], { _ = try Llama2C.weights(contentsOf: long) })
        else { return XCTFail("trailing bytes not reported as corruption") }
    }

    func testInvalidHeaders() throws {
        func header(_ fields: [Int32]) -> Data { fields.withUnsafeBytes { Data($0) } + Data(count: 64) }
        let zeroHeads = try FormatFixtures.write(header([64, 172, 5, 0, 4, 512, 512]), name: "zero-heads.bin")
        XCTAssertEqual(expectFormatError(mentions: ["zero-heads.bin", "headCount"]) { _ = try Llama2C.weights(contentsOf: zeroHeads) },
                       .invalidConfig(file: zeroHeads.path, field: "headCount", reason: "must be positive, is 0"))
        let huge = try FormatFixtures.write(header([1 << 30, 1 << 30, 1 << 30, 1 << 20, 1 << 20, 1 << 30, 1 << 30]), name: "huge.bin")
        expectFormatError(mentions: ["huge.bin", "token_embedding_table"]) { _ = try Llama2C.weights(contentsOf: huge) }
        let v2 = try FormatFixtures.write(header([0x616b_3432, 2, 64, 172, 5, 8, 4]), name: "v2.bin")
        XCTAssertEqual(expectFormatError(mentions: ["v2.bin"]) { _ = try Llama2C.weights(contentsOf: v2) },
                       .unsupportedVersion(file: v2.path, version: 2))
        let empty = try FormatFixtures.write(Data(), name: "empty.bin")
        expectFormatError(mentions: ["empty.bin", "header field dim"]) { _ = try Llama2C.weights(contentsOf: empty) }
    }

    /// The weights a fixture label such as "layers[2].wq" or "token_embedding[300]" refers to.
    static func values(_ label: String, in w: LlamaWeights) throws -> [Float] {
        if label == "token_embedding" { return w.tokenEmbedding.storage }
        if label == "token_embedding[300]" { return w.tokenEmbedding.row(300) }
        if label == "final_norm" { return w.finalNorm }
        let layer = w.layers[Int(label.dropFirst("layers[".count).prefix { $0.isNumber })!]
        switch label.split(separator: ".").last! {
        case "attn_norm": return layer.attnNorm
        case "ffn_norm": return layer.ffnNorm
        case "wq": return layer.wq.storage
        case "wk": return layer.wk.storage
        case "wv": return layer.wv.storage
        case "wo": return layer.wo.storage
        case "gate": return layer.gate.storage
        case "up": return layer.up.storage
        case "down": return layer.down.storage
        default: throw ModelFormatError.missingTensor(file: "stories260K_reference.json", tensor: label)
        }
    }
}
