import Export
import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import XCTest

/// qaft's llama.cpp exports against gguf-py: Tests/Fixtures/export/reference.json holds, per
/// exported tensor, the type gguf-py (pinned in make_reference.py) reads and an FNV-1a 64 digest
/// of its dequantized values. The test re-exports the same deterministic models and checks that
/// qaft's decoding of each file equals gguf-py's bit for bit, and that where the export reports
/// exact, qaft's deployed weights do too.
final class LlamaCppExportTests: XCTestCase {
    struct Reference: Decodable {
        struct Tensor: Decodable {
            let type: String
            let dims: [Int]
            let fnv1a64: String
        }

        struct Case: Decodable {
            let tensors: [String: Tensor]
            let alpha: Double?

            enum CodingKeys: String, CodingKey {
                case tensors
                case alpha = "adapter.lora.alpha"
            }
        }

        let cases: [String: Case]
    }

    static func fnv1a64(_ values: [Float]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        values.withUnsafeBytes { for b in $0 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
        return String(format: "%016lx", h)
    }

    /// The deterministic cases: name → deployed model.
    static func cases() throws -> [(String, DeployedModel)] {
        let g32 = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8)
        var out: [(String, DeployedModel)] = []
        for method in ["rtn", "gptq", "l4q", "lota-qaf", "qlora-uniform"] {
            out.append((method + "-w4g32", try DeployedModel(try TinyExportModel.exported(method, g32).model)))
        }
        out.append(("l4q-asymm-w4g32", try DeployedModel(try TinyExportModel.exported("l4q", TinyExportModel.fractionalL4Q).model)))
        out.append(("rtn-w3g64", try DeployedModel(try TinyExportModel.exported("rtn", MethodOptions(bits: 3, groupSize: 64)).model)))
        out.append(("rtn-w5g32", try DeployedModel(try TinyExportModel.exported("rtn", MethodOptions(bits: 5, groupSize: 32)).model)))
        // The embedding as SmolLM2's GGUF has it (on the Q8_0 grid, tied); and one of fp16 values
        // beside an untied head on the Q8_0 grid. The others' random float32 embedding stays F32.
        var q8 = TinyExportModel.weights()
        q8.tokenEmbedding = try LlamaCppFloatTensorTests.onQ8Grid(q8.tokenEmbedding)
        out.append(("rtn-w4g32-q8-embedding", try DeployedModel(try TinyExportModel.exported("rtn", g32, weights: q8).model)))
        var untied = TinyExportModel.weights()
        untied.tokenEmbedding.storage = untied.tokenEmbedding.storage.map { Float(Float16($0)) }
        untied.output = try LlamaCppFloatTensorTests.onQ8Grid(LlamaCppFloatTensorTests.random(untied.config.vocabSize, untied.config.dim))
        untied.config.tiedEmbeddings = false
        out.append(("rtn-w4g32-untied", try DeployedModel(try TinyExportModel.exported("rtn", g32, weights: untied).model)))
        return out
    }

    /// The type each case's embedding and head must be stored in (the most compact exact one).
    static let floatTypes = ["rtn-w4g32-q8-embedding": ["token_embd.weight": "Q8_0"],
                             "rtn-w4g32-untied": ["token_embd.weight": "F16", "output.weight": "Q8_0"]]

    func testExportsReadByGGUFPyEqualQaftsWeights() throws {
        let dir = try Fixtures.temporaryDirectory()
        let keep = ProcessInfo.processInfo.environment["QAFT_EXPORT_FIXTURES"].map { URL(fileURLWithPath: $0) }
        let reference: Reference = try Fixtures.json("Tests/Fixtures/export/reference.json")
        var exactCases: [String] = []
        for (name, model) in try Self.cases() {
            let url = (keep ?? dir).appendingPathComponent(name + ".gguf")
            let report = try LlamaCppExport.write(model, to: url, metadata: TinyExportModel.tokenizer)
            guard let expected = reference.cases[name] else { XCTFail("\(name): not in reference.json (run make_reference.py)"); continue }
            let file = try GGUFFile(contentsOf: url)
            XCTAssertNil(file.metadata.keys.first { $0.hasPrefix("qaft.deployed") }, "\(name): a private deployed-model key")
            let projections = file.tensors.filter { $0.name.hasPrefix("blk.") && $0.name.hasSuffix(".weight") && !$0.name.contains("norm") }
            // The reference also holds the blocks' norms (F32, copied as they are), the embedding and the head.
            XCTAssertEqual(projections.count, expected.tensors.keys.filter { $0.hasPrefix("blk.") && !$0.contains("norm") }.count, name)
            for t in projections {
                guard let e = expected.tensors[t.name] else { XCTFail("\(name) \(t.name): not read by gguf-py"); continue }
                XCTAssertEqual(t.type.description, e.type, "\(name) \(t.name)")
                XCTAssertEqual(t.dims, e.dims, "\(name) \(t.name)")
                XCTAssertEqual(Self.fnv1a64(try file.floats(t)), e.fnv1a64, "\(name) \(t.name): qaft's and gguf-py's dequantization differ")
                let tensorReport = try XCTUnwrap(report.tensors.first { $0.name == t.name })
                let l = Int(t.name.split(separator: ".")[1])!
                let site = Projection.allCases.first { t.name == "blk.\(l).\($0.ggufName).weight" }!
                let deployed = model.layers[l][site]!.baseWeight.storage
                XCTAssertEqual(Self.fnv1a64(deployed) == e.fnv1a64, tensorReport.exact, "\(name) \(t.name): exactness misreported")
            }
            // The embedding and an untied head: the expected type, and gguf-py's values are qaft's.
            let floats = [("token_embd.weight", model.weights.tokenEmbedding)] + (model.weights.output.map { [("output.weight", $0)] } ?? [])
            XCTAssertEqual(file.tensors.contains { $0.name == "output.weight" }, model.weights.output != nil, name)
            for (tensor, weights) in floats {
                let t = try file.tensor(tensor)
                guard let e = expected.tensors[tensor] else { XCTFail("\(name) \(tensor): not in reference.json"); continue }
                XCTAssertEqual(t.type.description, Self.floatTypes[name]?[tensor] ?? "F32", "\(name) \(tensor)")
                XCTAssertEqual(e.type, t.type.description, "\(name) \(tensor)")
                XCTAssertEqual(Self.fnv1a64(weights.storage), e.fnv1a64, "\(name) \(tensor): gguf-py's values differ from qaft's")
                let tensorReport = try XCTUnwrap(report.tensors.first { $0.name == tensor })
                XCTAssertEqual(tensorReport.type, t.type)
                XCTAssertTrue(tensorReport.exact)
            }
            if report.exact { exactCases.append(name) }
            if let adapter = report.adapter {
                let a = try GGUFFile(contentsOf: adapter), e = try XCTUnwrap(reference.cases[name + ".lora"])
                XCTAssertEqual(e.alpha, 8)
                XCTAssertEqual(a.metadata["adapter.lora.alpha"]?.double, 8)
                for t in a.tensors {
                    XCTAssertEqual(Self.fnv1a64(try a.floats(t)), e.tensors[t.name]?.fnv1a64, "\(name) \(t.name)")
                    XCTAssertEqual(t.dims, e.tensors[t.name]?.dims, "\(name) \(t.name)")
                }
                XCTAssertEqual(a.tensors.count, e.tensors.count)
            }
        }
        // Every grid a method stage hands on is deployable (QuantizedMatrix.deployable), so every export
        // is exact: Q4_1 at 4 bits (with fp16 offsets for L4Q's fractional zeros), Q4_0 at 3, Q8_0 at 5,
        // the QLoRA* base beside its adapter, and every embedding in the smallest exact type.
        XCTAssertEqual(Set(exactCases), Set(reference.cases.keys.filter { !$0.hasSuffix(".lora") }))
    }

    /// A per-channel grid is stored with its group padded to a multiple of 16 (176 for a 172-wide
    /// row, as stories260K's down projection): the refusal names the row's width, not the padding.
    func testPerChannelRowsNotWholeBlocksNameTheirWidth() {
        XCTAssertThrowsError(try LlamaCppGrid(QuantizedMatrix(rows: 2, cols: 172, bits: 4, groupSize: 176), site: "blk.0.ffn_down.weight")) { e in
            XCTAssertTrue("\(e)".contains("one group per row of 172 columns is not a whole number of llama.cpp's 32-weight blocks"), "\(e)")
        }
    }

    func testUnrepresentableGridsAreRefusedWithoutAFile() throws {
        let dir = try Fixtures.temporaryDirectory()
        var qeft = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8)
        qeft.weakColumns = 4
        qeft.extra = ["minMaxGrid": 1]
        let refused: [(String, MethodOptions, String)] = [
            ("qeft", qeft, "fp weak columns has no llama.cpp type"),
            ("qlora", MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8), "NF4 weight has no llama.cpp type"),
            ("rtn", MethodOptions(bits: 8, groupSize: 32), "Q8_0 needs integer zeros"),
            ("rtn", MethodOptions(bits: 4, groupSize: 16), "group size 16 over 64 columns is not a whole number of llama.cpp's 32-weight blocks"),
        ]
        for (method, options, reason) in refused {
            let url = dir.appendingPathComponent(method + ".gguf")
            let model = try DeployedModel(try TinyExportModel.exported(method, options).model)
            XCTAssertThrowsError(try LlamaCppExport.write(model, to: url, metadata: TinyExportModel.tokenizer)) { e in
                XCTAssertTrue("\(e)".contains(reason), "\(method): \(e)")
                XCTAssertTrue("\(e)".hasPrefix("blk.0."), "\(method): \(e) names no tensor")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "\(method): a file was left behind")
        }
        // A model without the tokenizer keys llama.cpp needs to load it (a llama2.c source's).
        let bare = try DeployedModel(try TinyExportModel.exported("rtn", MethodOptions(bits: 4, groupSize: 32)).model)
        XCTAssertThrowsError(try LlamaCppExport.write(bare, to: dir.appendingPathComponent("bare.gguf"),
                                                      metadata: TinyExportModel.tokenizer.filter { $0.0 != "tokenizer.ggml.model" })) { e in
            XCTAssertEqual("\(e)", "cannot export to GGUF: the model carries no GGUF tokenizer (tokenizer.ggml.model; a llama2.c checkpoint's "
                           + "tokenizer is not converted), and llama.cpp loads no model without one")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "bare: a file was left behind")
        // Asked for, NF4 goes to F16 with a warning.
        let url = dir.appendingPathComponent("qlora-f16.gguf")
        let report = try LlamaCppExport.write(try DeployedModel(try TinyExportModel.exported("qlora").model), to: url,
                                              metadata: TinyExportModel.tokenizer, fallback: .f16)
        XCTAssertEqual(Set(report.tensors.filter { $0.name.hasPrefix("blk.") }.map(\.type)), [.f16])
        XCTAssertEqual(report.warnings.count, 14)
        XCTAssertNotNil(report.adapter)
    }
}
