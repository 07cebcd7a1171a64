import Foundation
import XCTest
@testable import Export
import Models
import Quantization
import TestSupport

/// What the GPTQ writer refuses, what it reports inexact, and that a refused export leaves nothing.
final class GPTQFolderTests: XCTestCase {
    private func model() throws -> (LlamaWeights, URL) {
        let source = try Fixtures.familyFolder("llama2")
        return (try HuggingFaceLlama.weights(folder: source), source)
    }

    private func write(_ grids: [[Projection: QuantizedMatrix]], _ weights: LlamaWeights, _ source: URL,
                       format: GPTQCheckpointFormat? = nil, _ name: String = #function) throws -> (GPTQReport, URL) {
        let parent = try Fixtures.temporaryDirectory(name)
        let out = parent.appendingPathComponent("model")
        return (try GPTQFolder.write(grids: grids, weights: weights, source: .huggingFace(folder: source), to: out, format: format), parent)
    }

    /// The parent holds nothing but (possibly) the finished folder: no temporary left behind.
    private func assertNoPartial(_ parent: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let left = try FileManager.default.contentsOfDirectory(atPath: parent.path).filter { $0 != "model" }
        XCTAssertEqual(left, [], file: file, line: line)
    }

    func testZeroPointZeroNeedsV2AndV1RefusesItByName() throws {
        let (weights, source) = try model()
        var grids = try GPTQConsumerTests.deployedGrids(weights, bits: 4)
        grids[1][.up]!.zeros[5] = 0
        let (report, parent) = try write(grids, weights, source)
        XCTAssertEqual(report.checkpointFormat, .gptqV2)
        XCTAssertTrue(report.exact, report.summary)
        let refusedParent = try Fixtures.temporaryDirectory("v1refused")
        XCTAssertThrowsError(try GPTQFolder.write(grids: grids, weights: weights, source: .huggingFace(folder: source),
                                                  to: refusedParent.appendingPathComponent("model"), format: .gptq)) { error in
            let row = 5 / grids[1][.up]!.groupCount, group = 5 % grids[1][.up]!.groupCount
            XCTAssertEqual(error as? ExportError, .unrepresentable(
                site: "model.layers.1.mlp.up_proj", format: "GPTQ",
                reason: "row \(row) group \(group) has zero point 0.0; checkpoint_format gptq at 4 bits stores integer zeros 1…15"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: refusedParent.path), [])
        try assertNoPartial(parent)
    }

    func testNonFP16ScalesAreReportedInexactAndFractionalZerosRefused() throws {
        let (weights, source) = try model()
        var grids = try GPTQConsumerTests.deployedGrids(weights, bits: 4)
        // fp16-representable, but with 11 significant bits its products with codes are not.
        grids[0][.down]!.scales[0] = Float(Float16(0.0123456))
        grids[1][.k]!.scales[2] = 0.0123456
        let (report, parent) = try write(grids, weights, source)
        XCTAssertFalse(report.exact)
        XCTAssertEqual(report.inexact.map(\.name), ["model.layers.0.mlp.down_proj", "model.layers.1.self_attn.k_proj"])
        XCTAssertGreaterThan(report.inexact[0].maxAbsError, 0)
        XCTAssertTrue(report.summary.contains("model.layers.1.self_attn.k_proj: max |Δw|"), report.summary)
        XCTAssertTrue(report.tensors.filter { $0.name.hasSuffix("norm.weight") }.allSatisfy(\.exact))
        try assertNoPartial(parent)

        grids[0][.q]!.zeros[3] += 0.25
        let refused = try Fixtures.temporaryDirectory("fractional")
        XCTAssertThrowsError(try GPTQFolder.write(grids: grids, weights: weights, source: .huggingFace(folder: source),
                                                  to: refused.appendingPathComponent("model"))) { error in
            let g = grids[0][.q]!.groupCount
            XCTAssertEqual(error as? ExportError, .unrepresentable(
                site: "model.layers.0.self_attn.q_proj", format: "GPTQ",
                reason: "row \(3 / g) group \(3 % g) has zero point \(grids[0][.q]!.zeros[3]); checkpoint_format gptq_v2 at 4 bits stores integer zeros 0…15"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: refused.path), [])
    }

    func testRefusesUnsupportedBitsMixedGridsAndAnExistingDestination() throws {
        let (weights, source) = try model()
        let five = try weights.layers.map { layer in
            Dictionary(uniqueKeysWithValues: try Projection.allCases.map { ($0, try UniformQuantizer(bits: 5).quantize(layer[$0], groupSize: 32)) })
        }
        XCTAssertThrowsError(try write(five, weights, source, "five")) { error in
            XCTAssertEqual(error as? ExportError, .unrepresentable(site: "model.layers.0.self_attn.q_proj", format: "GPTQ",
                                                                   reason: "5-bit codes (GPTQ stores 2, 3, 4, 8 bits)"))
        }
        var mixed = try GPTQConsumerTests.deployedGrids(weights, bits: 4)
        mixed[1][.v] = try UniformQuantizer(bits: 3).quantize(weights.layers[1][.v], groupSize: 32)
        XCTAssertThrowsError(try write(mixed, weights, source, "mixed")) { error in
            XCTAssertEqual(error as? ExportError, .unsupportedModel(
                format: "GPTQ", reason: "model.layers.1.self_attn.v_proj is 3-bit with groups of 32 but model.layers.0.self_attn.q_proj is 4-bit "
                    + "with groups of 32: quantize_config.json holds one bit width and group size"))
        }
        var missing = try GPTQConsumerTests.deployedGrids(weights, bits: 2)
        missing[0][.gate] = nil
        XCTAssertThrowsError(try write(missing, weights, source, "missing")) { error in
            XCTAssertEqual(error as? ExportError, .unsupportedModel(format: "GPTQ", reason: "model.layers.0.mlp.gate_proj has no grid"))
        }
        let eight = try GPTQConsumerTests.deployedGrids(weights, bits: 8)
        let (report, parent) = try write(eight, weights, source, "eight")
        XCTAssertEqual(report.files, ["config.json", "model.safetensors", "quantize_config.json", "tokenizer.json", "tokenizer_config.json"])
        let out = parent.appendingPathComponent("model")
        XCTAssertThrowsError(try GPTQFolder.write(grids: eight, weights: weights, source: .huggingFace(folder: source), to: out)) { error in
            XCTAssertEqual(error as? ExportError, .destinationExists(path: out.path))
        }
        // The written tensors have GPTQ's shapes and dtypes.
        let st = try SafetensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
        let qw = try st.tensor("model.layers.0.mlp.down_proj.qweight"), qz = try st.tensor("model.layers.0.mlp.down_proj.qzeros")
        XCTAssertEqual([qw.dtype, qz.dtype], [.i32, .i32])
        XCTAssertEqual(qw.shape, [64 * 8 / 32, 32])
        XCTAssertEqual(qz.shape, [2, 32 * 8 / 32])
        XCTAssertEqual(try st.tensor("model.layers.0.mlp.down_proj.scales").dtype, .f16)
        try assertNoPartial(parent)
    }
}
