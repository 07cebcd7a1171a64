import Crypto
import Foundation
import XCTest
@testable import Export
import Models
import Quantization
import Tensor
import TestSupport

/// The exported GPTQ folder of the tiny llama2 family model, RTN-quantized (asymmetric, group 32,
/// deployable scales, as the quantizer makes them) at 4 and 3 bits, is the folder an independent
/// consumer loaded: Tests/Fixtures/export/gptq/gptq_consumer.py loaded it with transformers +
/// GPTQModel's CPU torch kernel and stored its logits. Here qaft re-exports it, checks every file's
/// SHA-256 against what the consumer loaded, and checks qaft's forward of the deployed grids against
/// the consumer's logits within 1e-4.
///
/// To regenerate: `QAFT_GPTQ_EXPORT_DIR=/tmp/gptq swift test … --filter GPTQConsumerTests` (keeps the
/// folders), then `python3 Tests/Fixtures/export/gptq/gptq_consumer.py /tmp/gptq`.
final class GPTQConsumerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Export: Decodable {
            let bits: Int
            let group_size: Int
            let files: [String: String]
            let ids: [Int]
            /// Per position, the logits of `ids`.
            let logits: [[Float]]
            let logsumexp: [Double]
        }
        let tokens: [Int]
        let exports: [Export]
    }

    /// The deployed model: RTN codes with the quantizer's deployable scales, which GPTQ's fp16
    /// dequantization reproduces exactly.
    static func deployedGrids(_ weights: LlamaWeights, bits: Int) throws -> [[Projection: QuantizedMatrix]] {
        let rtn = try UniformQuantizer(bits: bits, grid: .asymmetric)
        return try weights.layers.map { layer in
            var grids: [Projection: QuantizedMatrix] = [:]
            for p in Projection.allCases {
                grids[p] = try rtn.quantize(layer[p], groupSize: 32)
            }
            return grids
        }
    }

    func testConsumerLoadsExportAndLogitsMatch() throws {
        let source = try Fixtures.familyFolder("llama2")
        let weights = try HuggingFaceLlama.weights(folder: source)
        var exported: [(grids: [[Projection: QuantizedMatrix]], out: URL, report: GPTQReport)] = []
        for bits in [4, 3] {
            let grids = try Self.deployedGrids(weights, bits: bits)
            let out = try Fixtures.temporaryDirectory("gptq\(bits)").appendingPathComponent("model")
            let report = try GPTQFolder.write(grids: grids, weights: weights, source: .huggingFace(folder: source), to: out)
            if let keep = ProcessInfo.processInfo.environment["QAFT_GPTQ_EXPORT_DIR"] {
                let dest = URL(fileURLWithPath: keep).appendingPathComponent("\(bits)bit")
                try? FileManager.default.removeItem(at: dest)
                try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: out, to: dest)
            }
            exported.append((grids, out, report))
        }
        let fixture: Fixture = try Fixtures.json("Tests/Fixtures/export/gptq/consumer.json")
        XCTAssertEqual(fixture.exports.map(\.bits), [4, 3])
        for (expected, (grids, out, report)) in zip(fixture.exports, exported) {
            XCTAssertTrue(report.exact, report.summary)
            XCTAssertEqual(report.checkpointFormat, .gptq)
            XCTAssertEqual(report.bits, expected.bits)
            XCTAssertFalse(report.symmetric)
            var digests: [String: String] = [:]
            for f in report.files {
                let data = try Data(contentsOf: out.appendingPathComponent(f))
                digests[f] = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            }
            XCTAssertEqual(digests, expected.files, "\(expected.bits)-bit: the re-exported folder differs from the one the consumer loaded")

            var deployed = weights
            for (i, layer) in grids.enumerated() { for (p, g) in layer { deployed.layers[i][p] = g.dequantized() } }
            let logits = try Llama(deployed).forward(TokenBatch(fixture.tokens))
            XCTAssertEqual(expected.logits.count, fixture.tokens.count)
            var worst: Float = 0
            for (pos, row) in expected.logits.enumerated() {
                for (id, theirs) in zip(expected.ids, row) { worst = max(worst, abs(logits[pos, id] - theirs)) }
                let lse = (0..<logits.cols).map { Double(logits[pos, $0]) }
                let m = lse.max()!
                let mine = m + log(lse.reduce(0) { $0 + exp($1 - m) })
                XCTAssertEqual(mine, expected.logsumexp[pos], accuracy: 1e-4, "\(expected.bits)-bit position \(pos) logsumexp")
            }
            XCTAssertLessThan(worst, 1e-4, "\(expected.bits)-bit: max |qaft − consumer| logit = \(worst)")
            print("GPTQ \(expected.bits)-bit: max |qaft − consumer| over \(expected.ids.count) ids × \(fixture.tokens.count) positions = \(worst)")
        }
    }
}
