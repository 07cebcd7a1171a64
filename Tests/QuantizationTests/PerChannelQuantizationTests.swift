import Foundation
import Models
import Quantization
import Tensor
import TestSupport
import XCTest

/// Whole-row groups for a model whose widths no packable group size divides: stories260K's 64-wide
/// attention inputs and 172-wide down projection.
final class PerChannelQuantizationTests: XCTestCase {
    func options(_ method: ModelQuantizationOptions.Method, k: Int = 0) -> ModelQuantizationOptions {
        .init(method: method, bits: 3, groupSize: 32, weakColumns: k, rangeSearch: .minMax, perChannel: true)
    }

    func testStoriesQuantizesPerChannelAndReadsBack() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let text = try String(contentsOf: Fixtures.url("Tests/Fixtures/training/stories.txt"), encoding: .utf8)
        let windows = try CalibrationWindows.sample(documents: text.components(separatedBy: "\n\n"), tokenizer: loaded.tokenizer,
                                                    count: 8, length: 64, seed: 1)
        var grouped = options(.gptq)
        grouped.perChannel = false
        XCTAssertThrowsError(try grouped.validate(for: loaded.config)) {
            guard case QuantizationError.invalidOption(let option, _, let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(option, "groupSize")
            XCTAssertTrue(reason.contains("172"), reason)
        }
        let dir = try Fixtures.temporaryDirectory()
        let tokens = Array(loaded.tokenizer.encode(String(text.prefix(400))).prefix(48))
        for (method, k) in [(ModelQuantizationOptions.Method.rtn, 0), (.gptq, 0), (.qeft, 4)] {
            let m = try ModelQuantizer.quantize(loaded.weights, options: options(method, k: k), calibration: windows)
            for (l, block) in m.layers.enumerated() {
                for (site, layer) in block {
                    let p = layer.lowBit
                    XCTAssertEqual(p.groupCount, 1, "\(method) layer \(l) \(site)")
                    XCTAssertEqual(p.groupSize % 16, 0)
                    XCTAssertGreaterThanOrEqual(p.groupSize, p.cols)
                }
            }
            if method == .rtn {
                // Round to nearest on one grid per row: every weight within half a step of its value.
                for (l, block) in m.layers.enumerated() {
                    let w = loaded.weights.layers[l][.down], q = m.weights.layers[l][.down], scales = block[.down]!.lowBit.scales
                    XCTAssertEqual(w.cols, 172)
                    for r in 0..<w.rows {
                        for c in 0..<w.cols { XCTAssertLessThanOrEqual(abs(w[r, c] - q[r, c]), scales[r] / 2 * (1 + 1e-5) + 1e-7) }
                    }
                }
            }
            let url = dir.appendingPathComponent("\(method).gguf")
            try QuantizedModelFile.write(m, to: url)
            let back = try QuantizedModelFile.read(url)
            XCTAssertEqual(back.options, m.options)
            XCTAssertTrue(back.options.perChannel)
            XCTAssertEqual(back.layers, m.layers, "\(method)")
            XCTAssertEqual(try back.llama().forward(TokenBatch(tokens)).storage, try m.llama().forward(TokenBatch(tokens)).storage)
        }
    }
}
