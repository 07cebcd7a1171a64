import Models
import Quantization
import XCTest

final class ModelQuantizationOptionsTests: XCTestCase {
    let smol = LlamaConfig(dim: 576, hiddenDim: 1536, layerCount: 30, headCount: 9, kvHeadCount: 3, vocabSize: 49152,
                           contextLength: 8192, ropeTheta: 1e5, normEps: 1e-5, ropeStyle: .interleaved, tiedEmbeddings: true)

    func assertRejects(_ o: ModelQuantizationOptions, _ option: String, line: UInt = #line) {
        XCTAssertThrowsError(try o.validate(for: smol), line: line) {
            guard case .invalidOption(let name, _, _)? = $0 as? QuantizationError else { return XCTFail("\($0)", line: line) }
            XCTAssertEqual(name, option, "\($0)", line: line)
        }
    }

    func testOptionsAreValidatedNamingTheOption() throws {
        try ModelQuantizationOptions(method: .qeft, bits: 3, groupSize: 64, weakColumns: 16).validate(for: smol)
        try ModelQuantizationOptions(method: .gptq, bits: 5, groupSize: 192, actOrder: true).validate(for: smol)
        assertRejects(.init(method: .gptq, bits: 9, groupSize: 64), "bits")
        assertRejects(.init(method: .gptq, bits: 1, groupSize: 64), "bits")
        assertRejects(.init(method: .rtn, bits: 4, groupSize: 40), "groupSize")  // not a multiple of 16
        assertRejects(.init(method: .rtn, bits: 4, groupSize: 128), "groupSize")  // does not divide 576
        assertRejects(.init(method: .owq, bits: 4, groupSize: 64, weakColumns: 576), "weakColumns")
        assertRejects(.init(method: .gptq, bits: 4, groupSize: 64, weakColumns: 4), "weakColumns")
        assertRejects(.init(method: .qeft, bits: 4, groupSize: 64, weakColumns: 4, actOrder: true), "actOrder")
        XCTAssertEqual(ModelQuantizationOptions(method: .qeft, bits: 4, groupSize: 64).rangeSearch, .owq)
        XCTAssertEqual(ModelQuantizationOptions(method: .gptq, bits: 4, groupSize: 64).rangeSearch, .minMax)
    }
}

extension ModelQuantizationOptionsTests {
    /// Claim C3's ablation: QEFT's global set drawn at random (seeded) instead of from diag(H).
    /// The seed decides the set, it reaches the folded tail, and the file keeps it, so a model read
    /// back has the options it was quantized with (what fine-tuning stages match their base by).
    func testRandomWeakColumns() throws {
        assertRejects(.init(method: .owq, bits: 4, groupSize: 64, weakColumns: 4, randomWeakColumns: 1), "randomWeakColumns")
        let weights = TinyModel.weights(), windows = TinyModel.windows(4, length: 32, seed: 3)
        func tail(_ seed: UInt64?) throws -> (model: QuantizedModel, tail: [Int]) {
            let o = ModelQuantizationOptions(method: .qeft, bits: 4, groupSize: 32, weakColumns: 6, rangeSearch: .minMax, randomWeakColumns: seed)
            let m = try ModelQuantizer.quantize(weights, options: o, calibration: windows)
            return (m, Array(try XCTUnwrap(m.reordering).residual.suffix(6)))
        }
        let own = try tail(nil), a = try tail(7), again = try tail(7), b = try tail(8)
        XCTAssertEqual(a.tail, again.tail)
        XCTAssertNotEqual(a.tail, b.tail)
        XCTAssertNotEqual(a.tail, own.tail)
        // Overlap is measured against the set actually kept.
        let overlap = try XCTUnwrap(a.model.weakColumnOverlap)
        XCTAssertNotEqual(overlap, try XCTUnwrap(own.model.weakColumnOverlap))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("random-weak-\(ProcessInfo.processInfo.processIdentifier).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try QuantizedModelFile.write(a.model, to: url)
        XCTAssertEqual(try QuantizedModelFile.read(url).options, a.model.options)
    }
}
