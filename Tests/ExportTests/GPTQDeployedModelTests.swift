import Foundation
import XCTest
@testable import Export
import Methods
import Models
import Quantization
import Tensor
import TestSupport

/// The deployed-model path of the GPTQ writer: q/k rows put back in Hugging Face's order (checked
/// against llama.cpp's own converter), and every deployed form GPTQ cannot hold refused by name with
/// no folder left behind.
final class GPTQDeployedModelTests: XCTestCase {
    /// Tests/Fixtures/families/llama2/model.gguf is llama.cpp's convert_hf_to_gguf.py output of the
    /// safetensors beside it (MHA, q and k biases): its q/k rows and biases, reordered, are the
    /// Hugging Face ones exactly, and the other projections are untouched.
    func testRowOrderUndoesLlamaCppsConverter() throws {
        let gguf = try GGUFFile(contentsOf: Fixtures.url("Tests/Fixtures/families/llama2/model.gguf")).llamaWeights()
        let hf = try HuggingFaceLlama.weights(folder: Fixtures.familyFolder("llama2"))
        XCTAssertEqual(gguf.config.ropeStyle, .interleaved)
        for (l, layer) in gguf.layers.enumerated() {
            for p in Projection.allCases {
                let order = RotaryRowOrder.huggingFaceRows(p, gguf.config)
                XCTAssertEqual(order != nil, p == .q || p == .k)
                let m = layer[p], reordered = order.map { RotaryRowOrder.rows(m.storage, width: m.cols, $0) } ?? m.storage
                XCTAssertEqual(reordered, hf.layers[l][p].storage, "layer \(l) \(p)")
                let bias = try XCTUnwrap(layer.biases[p])
                XCTAssertEqual(order.map { RotaryRowOrder.rows(bias, width: 1, $0) } ?? bias, hf.layers[l].biases[p], "layer \(l) \(p) bias")
            }
        }
        // A grid's rows move with their codes, scales and zeros.
        var q = QuantizedMatrix(rows: 3, cols: 4, bits: 4, groupSize: 2)
        q.codes = (0..<12).map(UInt8.init)
        q.scales = [1, 2, 3, 4, 5, 6]
        q.zeros = [7, 8, 9, 10, 11, 12]
        let moved = RotaryRowOrder.rows(q, [2, 0, 1])
        XCTAssertEqual(moved.codes, [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(moved.scales, [5, 6, 1, 2, 3, 4])
        XCTAssertEqual(moved.zeros, [11, 12, 7, 8, 9, 10])
    }

    func testDeployedFormsWithoutAGPTQFormAreRefusedByName() throws {
        let dir = try Fixtures.temporaryDirectory()
        var qeft = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8)
        qeft.weakColumns = 4
        qeft.extra = ["minMaxGrid": 1]
        let g32 = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8)
        func exported(_ method: String, _ options: MethodOptions = g32) throws -> DeployedModel {
            try DeployedModel(try TinyExportModel.exported(method, options).model)
        }
        var fractional = try exported("rtn")
        guard case .grid(var grid) = fractional.layers[1][.down]!.base else { return XCTFail("rtn exported no grid") }
        grid.zeros[2] += 0.5
        fractional.layers[1][.down] = DeployedLayer(base: .grid(grid))
        let refused: [(String, DeployedModel, String)] = [
            ("qeft", try exported("qeft", qeft), "model.layers.0.self_attn.q_proj: cannot be exported to GPTQ exactly: "
                + "a 4-bit grid with 4 fp weak columns has no GPTQ form (uniform integer grids only)"),
            ("qlora", try exported("qlora"),
             "model.layers.0.self_attn.q_proj: cannot be exported to GPTQ exactly: it computes an fp LoRA adapter beside its base"),
            ("qlora-uniform", try exported("qlora-uniform"), "it computes an fp LoRA adapter beside its base"),
            ("fractional zero", fractional, "model.layers.1.mlp.down_proj: cannot be exported to GPTQ exactly: row 0 group 2 has zero point "
                + "\(grid.zeros[2]); checkpoint_format gptq_v2 at 4 bits stores integer zeros 0…15"),
            // The tiny model's placeholder vocabulary has SentencePiece's model type.
            ("rtn", try exported("rtn"), "cannot export to GPTQ: tiny.gguf: tokenizer.ggml.model 'llama': only byte-level BPE"),
        ]
        for (name, model, reason) in refused {
            XCTAssertThrowsError(try GPTQFolder.write(model, source: .gguf(file: "tiny.gguf", tokenizer: TinyExportModel.tokenizer),
                                                      to: dir.appendingPathComponent("model"))) { e in
                XCTAssertTrue("\(e)".contains(reason), "\(name): \(e)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "\(name): something was left behind")
        }
    }
}
