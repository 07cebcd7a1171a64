import Foundation
import Models
import Quantization
import Tensor
import TestSupport
import XCTest

final class QuantizedModelFileTests: XCTestCase {
    static let tokens = [[1, 5, 9, 13, 2, 77, 40, 3], [8, 8, 60]]

    func logits(_ m: QuantizedModel) throws -> [Float] {
        try m.llama().forward(TokenBatch(sequences: Self.tokens)).storage
    }

    func quantized(_ method: ModelQuantizationOptions.Method, k: Int = 0, tied: Bool = false) throws -> QuantizedModel {
        try ModelQuantizer.quantize(TinyModel.weights(tied: tied),
                                    options: .init(method: method, bits: 3, groupSize: 32, weakColumns: k, rangeSearch: .minMax),
                                    calibration: TinyModel.windows(6, length: 16, seed: 2))
    }

    /// Every method writes and reads back to the same layers and bit-identical logits; the
    /// packed model computes what its fake-quantized weights compute.
    func testRoundTripGivesIdenticalLogits() throws {
        let dir = try Fixtures.temporaryDirectory()
        for (method, k, tied) in [(ModelQuantizationOptions.Method.rtn, 0, false), (.gptq, 0, true), (.owq, 4, false), (.qeft, 4, true)] {
            let m = try quantized(method, k: k, tied: tied)
            let url = dir.appendingPathComponent("\(method).gguf")
            try QuantizedModelFile.write(m, to: url, metadata: [("qaft.calibration.seed", .uint64(2))])
            XCTAssertTrue(QuantizedModelFile.isQuantized(url))
            let back = try QuantizedModelFile.read(url)
            XCTAssertEqual(back.options, m.options)
            XCTAssertEqual(back.reordering, m.reordering)
            XCTAssertEqual(back.layers, m.layers, "\(method)")
            XCTAssertEqual(try logits(back), try logits(m), "\(method)")
            let fake = try Llama(m.weights).forward(TokenBatch(sequences: Self.tokens)).storage
            let packed = try logits(m)
            let worst = zip(fake, packed).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-4 * fake.map(abs).max()!, "\(method)")
            if method == .qeft {
                // The tail layout after reordering, o_proj gathered, down folded.
                XCTAssertEqual(m.layers[0][.q]!.weakIndices, Array(60..<64))
                XCTAssertEqual(m.layers[1][.down]!.weakIndices, Array(124..<128))
                XCTAssertNotNil(m.reordering?.intermediate[1])
            }
            print("\(method) k=\(k): \(String(format: "%.3f", m.bitsPerWeight)) bits per weight")
        }
        XCTAssertFalse(QuantizedModelFile.isQuantized(Fixtures.stories260K))
    }

    /// GPTQ's calibrated solution beats round-to-nearest on the model's own outputs.
    func testGPTQIsCloserToTheFloatModelThanRTN() throws {
        let fp = try Llama(TinyModel.weights()).forward(TokenBatch(sequences: Self.tokens)).storage
        func error(_ m: QuantizedModel) throws -> Float { zip(try logits(m), fp).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        XCTAssertLessThan(try error(quantized(.gptq)), try error(quantized(.rtn)))
    }

    func testCorruptFilesAreRejectedPrecisely() throws {
        let dir = try Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("m.gguf")
        try QuantizedModelFile.write(try quantized(.qeft, k: 4), to: url)
        let good = try Array(Data(contentsOf: url))
        let file = try GGUFFile(contentsOf: url)
        func expect(_ bytes: [UInt8], _ check: (ModelFormatError) -> Void, line: UInt = #line) throws {
            let bad = dir.appendingPathComponent("bad.gguf")
            try Data(bytes).write(to: bad)
            XCTAssertThrowsError(try QuantizedModelFile.read(bad), line: line) {
                guard let e = $0 as? ModelFormatError else { return XCTFail("\($0)", line: line) }
                check(e)
            }
        }
        func patchMetadata(_ key: String, _ value: GGUFValue) throws -> [UInt8] {
            var w = GGUFWriter()
            for k in file.metadata.keys.sorted() { w.set(k, k == key ? value : file.metadata[k]!) }
            for t in file.tensors { try w.addTensor(t.name, dims: t.dims, type: t.type, data: file.rawBytes(t)) }
            return try w.encoded()
        }
        // A nonzero padding code (columns 60…63 of q's low-bit part are padding): reported at its word.
        let codes = try file.tensor("blk.0.attn_q.qcodes")
        var bad = good
        let word = codes.offset + 4 * (16 * 3 * 1 + 16 * 2 + 5)  // tile 0, chunk 1, word 2 of lane 5; bit 31 is code 31
        bad[word + 3] |= 0x80
        try expect(bad) {
            XCTAssertEqual($0, .corrupt(file: dir.appendingPathComponent("bad.gguf").path, what: "tensor 'blk.0.attn_q.qcodes'",
                                        offset: word, reason: "padding code at row 5, column 63 is not zero"))
        }
        try expect(try patchMetadata("qaft.quantization.bits", .uint32(9))) {
            guard case .invalidConfig(_, let field, let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(field, "qaft.quantization.*")
            XCTAssertTrue(reason.contains("'bits' = 9"), reason)
        }
        try expect(try patchMetadata("qaft.quantization.layout", .string("rows-v0"))) {
            guard case .invalidConfig(_, "qaft.quantization.layout", _) = $0 else { return XCTFail("\($0)") }
        }
        try expect(try patchMetadata("qaft.quantization.method", .uint32(1))) {
            guard case .invalidConfig(_, "qaft.quantization.method", let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("expected string"), why)
        }
        try expect(try patchMetadata("qaft.quantization.residual_order", .array((0..<64).map { _ in .uint32(0) }))) {
            guard case .invalidConfig(_, "qaft.quantization.*_order", _) = $0 else { return XCTFail("\($0)") }
        }
        // Weak indices out of order.
        let idx = try file.tensor("blk.1.attn_output.qweak_index")
        bad = good
        bad[idx.offset] = 63
        try expect(bad) {
            guard case .corrupt(_, "tensor 'blk.1.attn_output.qweak_index'", idx.offset + 4, let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("strictly ascending"), why)
        }
        // A NaN scale.
        let scales = try file.tensor("blk.0.ffn_up.qscales")
        bad = good
        for (i, b) in [0x00, 0x00, 0xC0, 0x7F].enumerated() { bad[scales.offset + 8 + i] = UInt8(b) }
        try expect(bad) { XCTAssertEqual($0, .corrupt(file: dir.appendingPathComponent("bad.gguf").path, what: "tensor 'blk.0.ffn_up.qscales'",
                                                     offset: scales.offset + 8, reason: "value 2 is nan")) }
        // Missing tensor and cut files.
        try expect(Array(good.prefix(good.count - 100))) { guard case .truncated = $0 else { return XCTFail("\($0)") } }
        var w = GGUFWriter()
        for k in file.metadata.keys.sorted() { w.set(k, file.metadata[k]!) }
        for t in file.tensors where t.name != "blk.1.ffn_gate.qzeros" { try w.addTensor(t.name, dims: t.dims, type: t.type, data: file.rawBytes(t)) }
        try expect(try w.encoded()) {
            XCTAssertEqual($0, .missingTensor(file: dir.appendingPathComponent("bad.gguf").path, tensor: "blk.1.ffn_gate.qzeros"))
        }
    }
}
