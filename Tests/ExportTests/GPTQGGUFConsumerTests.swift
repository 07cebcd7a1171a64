import Crypto
import Foundation
import XCTest
@testable import Export
import Models
import Quantization
import Tensor
import TestSupport

/// A GPTQ folder exported from a llama.cpp GGUF is the folder an independent consumer loaded:
/// SmolLM2-135M-Instruct (q/k rows in llama.cpp's interleaved order, its byte-level BPE tokenizer in
/// GGUF keys), RTN w4 g32 (deployable scales: fp16-exact), written through `GPTQFolder.write(_: DeployedModel…)`
/// with config.json and tokenizer files made by qaft. Tests/Fixtures/export/gptq/gptq_consumer.py
/// loaded it with transformers + GPTQModel (CPU) and AutoTokenizer and stored
/// consumer-smollm2.json. Here the re-export must be byte-identical to what it loaded, qaft's forward
/// of the deployed grids (in GGUF order, interleaved RoPE) must give the consumer's logits within
/// 1e-4 (which fails if q/k are not put back in Hugging Face's order), and qaft's tokenizer of the
/// GGUF must encode each text as the exported tokenizer did.
///
/// To regenerate: `QAFT_GPTQ_EXPORT_DIR=/tmp/gptq swift test … --filter GPTQGGUFConsumerTests`, then
/// `/path/to/python-with-gptqmodel Tests/Fixtures/export/gptq/gptq_consumer.py /tmp/gptq`.
final class GPTQGGUFConsumerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Text: Decodable {
            let text: String
            let ids: [Int]
        }
        let tokens: [Int]
        let texts: [Text]
        let exports: [GPTQConsumerTests.Fixture.Export]
    }

    func testSmolLM2ExportFromGGUFLoadsInTransformersAndMatches() throws {
        let file = try Fixtures.smolLM2()
        let gguf = try GGUFFile(contentsOf: file)
        let weights = try gguf.llamaWeights()
        XCTAssertEqual(weights.config.ropeStyle, .interleaved)
        let tokenizerKeys = gguf.metadata.filter { $0.key.hasPrefix("tokenizer.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let grids = try GPTQConsumerTests.deployedGrids(weights, bits: 4)
        let model = DeployedModel(weights: weights, layers: grids.map { $0.mapValues { DeployedLayer(base: .grid($0)) } })
        let out = try Fixtures.temporaryDirectory().appendingPathComponent("model")
        let started = Date()
        let report = try GPTQFolder.write(model, source: .gguf(file: file.path, tokenizer: tokenizerKeys), to: out)
        print("GPTQ export of SmolLM2 from GGUF: \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        if let keep = ProcessInfo.processInfo.environment["QAFT_GPTQ_EXPORT_DIR"] {
            let dest = URL(fileURLWithPath: keep).appendingPathComponent("smollm2")
            try? FileManager.default.removeItem(at: dest)
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: out, to: dest)
        }
        XCTAssertTrue(report.exact, report.summary)
        XCTAssertEqual(report.files, ["config.json", "model.safetensors", "quantize_config.json", "tokenizer.json", "tokenizer_config.json"])

        let fixture: Fixture = try Fixtures.json("Tests/Fixtures/export/gptq/consumer-smollm2.json")
        let expected = try XCTUnwrap(fixture.exports.first)
        var digests: [String: String] = [:]
        for f in report.files {
            digests[f] = SHA256.hash(data: try Data(contentsOf: out.appendingPathComponent(f))).map { String(format: "%02x", $0) }.joined()
        }
        XCTAssertEqual(digests, expected.files, "the re-exported folder differs from the one the consumer loaded")

        let tokenizer = try gguf.tokenizer()
        for t in fixture.texts {
            XCTAssertEqual(tokenizer.encode(t.text), t.ids, "\(t.text.debugDescription): qaft and the exported tokenizer.json differ")
        }
        XCTAssertEqual(fixture.tokens, fixture.texts.first?.ids)

        var deployed = weights
        for (i, layer) in grids.enumerated() { for (p, g) in layer { deployed.layers[i][p] = g.dequantized() } }
        let logits = try Llama(deployed).forward(TokenBatch(fixture.tokens))
        var worst: Float = 0, worstLSE = 0.0
        for (pos, row) in expected.logits.enumerated() {
            for (id, theirs) in zip(expected.ids, row) { worst = max(worst, abs(logits[pos, id] - theirs)) }
            let values = (0..<logits.cols).map { Double(logits[pos, $0]) }
            let m = values.max()!
            worstLSE = max(worstLSE, abs(m + log(values.reduce(0) { $0 + exp($1 - m) }) - expected.logsumexp[pos]))
        }
        XCTAssertEqual(expected.logits.count, fixture.tokens.count)
        XCTAssertLessThan(worst, 1e-4, "max |qaft − consumer| logit")
        XCTAssertLessThan(worstLSE, 1e-4, "max |qaft − consumer| logsumexp")
        print("SmolLM2 GPTQ w4 from GGUF: max |qaft − consumer| over \(expected.ids.count) ids × \(fixture.tokens.count) positions = \(worst), logsumexp \(worstLSE)")
    }
}
