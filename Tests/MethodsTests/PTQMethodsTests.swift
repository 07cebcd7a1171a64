import Foundation
@testable import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// Real-data inputs of the post-training method tests: SmolLM2, C4-sample calibration windows and
/// the WikiText-2 perplexity protocol (the first windows of the test rows joined with "\n\n").
enum PTQData {
    static let smol: Result<LoadedModel, Error> = Result { try ModelLoader.load(Fixtures.smolLM2()) }

    static func rows(_ file: String) throws -> [String] {
        struct Row: Decodable { let text: String }
        let data = try String(contentsOf: Fixtures.url("Experiments/Data/" + file), encoding: .utf8)
        return try data.split(separator: "\n").map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)).text }
    }

    /// `count` C4-sample windows of `length` tokens (never evaluation text).
    static func calibration(_ m: LoadedModel, count: Int, length: Int) throws -> [[Int]] {
        try CalibrationWindows.sample(documents: rows("c4/c4_demo.jsonl"), tokenizer: m.tokenizer, count: count, length: length, seed: 42)
    }

    /// Perplexity over the first `windows` non-overlapping 512-token windows of WikiText-2 test.
    static func wikiText2Perplexity(_ model: Llama, _ m: LoadedModel, windows: Int) throws -> Double {
        var text = "", rowsUsed = 0
        let all = try rows("wikitext2/wikitext-2-raw-v1_test.jsonl")
        while text.utf8.count < windows * 512 * 8, rowsUsed < all.count {
            text += (rowsUsed == 0 ? "" : "\n\n") + all[rowsUsed]
            rowsUsed += 1
        }
        let tokens = Array(m.tokenizer.encode(text).prefix(windows * 512))
        XCTAssertEqual(tokens.count, windows * 512)
        return try model.windowedNLL(tokens, window: 512).perplexity
    }
}

/// RTN, GPTQ and OmniQuant as methods: option errors, export form, and quality ordering on SmolLM2.
final class PTQMethodsTests: XCTestCase {
    func option(_ e: Error) -> String? {
        guard case MethodError.invalidOption(let o, _, _) = e else { return nil }
        return o
    }

    func testBadOptionsAreNamed() throws {
        XCTAssertThrowsError(try MethodRegistry.make("rtn", options: MethodOptions(extra: ["typo": 1]))) { XCTAssertEqual(option($0), "extra.typo") }
        XCTAssertThrowsError(try MethodRegistry.make("qeft", options: MethodOptions(weakColumns: 0))) { XCTAssertEqual(option($0), "weakColumns") }
        XCTAssertThrowsError(try MethodRegistry.make("qeft", options: MethodOptions(weakColumns: 16, extra: ["minMaxGrid": 2]))) {
            XCTAssertEqual(option($0), "extra.minMaxGrid")
        }
        XCTAssertThrowsError(try MethodRegistry.make("omniquant", options: MethodOptions(groupSize: 24))) { XCTAssertEqual(option($0), "groupSize") }
        XCTAssertThrowsError(try MethodRegistry.make("omniquant", options: MethodOptions(extra: ["epochs": 0.5]))) { XCTAssertEqual(option($0), "extra.epochs") }
        XCTAssertThrowsError(try MethodRegistry.make("gptq-lora", options: MethodOptions(rank: 0))) { XCTAssertEqual(option($0), "rank") }
        let stories = try ModelLoader.load(Fixtures.stories260K).weights
        for name in ["gptq", "qeft", "gptq-lora"] {
            XCTAssertThrowsError(try MethodRegistry.make(name, options: MethodOptions()).prepare(MethodContext(weights: stories))) {
                XCTAssertEqual(option($0), "calibration", name)
            }
        }
        // 64 does not divide stories260K's FFN width 172.
        XCTAssertThrowsError(try MethodRegistry.make("rtn", options: MethodOptions(groupSize: 64)).prepare(MethodContext(weights: stories))) {
            XCTAssertEqual(option($0), "groupSize")
        }
        XCTAssertThrowsError(try MethodRegistry.make("rtn", options: MethodOptions()).export(TrainableLlama(stories))) {
            XCTAssertEqual(option($0), "export")
        }
    }

    /// At w3 g64, GPTQ's exported integer model has a lower WikiText-2 perplexity than RTN's.
    ///
    /// Calibration: 64 C4-sample windows of 128 tokens (spec: 128 windows; halved, and shortened
    /// from 512, for time). GPTQ needs many distinct windows here: with 16 × 512 (drawn from the
    /// only 81 sample documents longer than 512 tokens) it measured 124.7 against RTN's 107.4, with
    /// 64 × 512 105.2; with 64 × 128 (228 documents qualify) 85.4, 87.8 and 94.4 for seeds 42, 0, 1.
    /// Calibrated on WikiText-2 text outside the scored windows (16 × 512) it reached 94.5, so the
    /// algorithm works and the gap is the calibration sample's.
    func testGPTQBeatsRTNOnWikiText2() throws {
        let m = try PTQData.smol.get()
        let context = MethodContext(weights: m.weights, calibration: try PTQData.calibration(m, count: 64, length: 128))
        var ppl: [String: Double] = [:]
        for name in ["rtn", "gptq"] {
            let started = Date()
            let method = try MethodRegistry.make(name, options: MethodOptions(bits: 3, groupSize: 64))
            let exported = try method.export(try method.prepare(context))
            XCTAssertEqual(exported.precision, .integer(bits: 3))
            XCTAssertEqual(exported.bitsPerWeight, 3.5, accuracy: 1e-9)  // 3 + (16 + 16) / 64
            XCTAssertLessThan(exported.mergeDifference!, 1e-3, "packed kernels vs the dequantized training form")
            ppl[name] = try PTQData.wikiText2Perplexity(exported.model, m, windows: 10)
            print(String(format: "SmolLM2 %@ w3 g64: WikiText-2 ppl (10×512) %.3f, %.1f s", name, ppl[name]!, Date().timeIntervalSince(started)))
        }
        XCTAssertLessThan(ppl["gptq"]!, ppl["rtn"]!)
    }

    /// OmniQuant's learned clipping reconstructs a real SmolLM2 block better than RTN at 3 bits.
    func testOmniQuantBlockErrorBelowRTN() throws {
        let m = try PTQData.smol.get()
        let windows = try PTQData.calibration(m, count: 4, length: 128)
        let batches = windows.map { TokenBatch(sequences: [$0]) }
        let float = Llama(m.weights), block = 2
        var inputs = try batches.map { try float.embed($0) }
        for j in batches.indices { try float.runBlocks(0..<block, hidden: &inputs[j], batch: batches[j]) }
        var targets = inputs
        for j in batches.indices { try float.runBlocks(block..<(block + 1), hidden: &targets[j], batch: batches[j]) }

        let method = try OmniQuant(options: MethodOptions(bits: 3, groupSize: 64, extra: ["epochs": 4]))
        let started = Date()
        let (initial, final) = try method.reconstruct(block: block, try method.clippingModel(m.weights),
                                                      inputs: inputs, targets: targets, batches: batches)
        let rtnGrid = try UniformQuantizer(bits: 3)
        let rtnWeights = try m.weights.mapLinears { site, w in site.layer == block ? try rtnGrid.fakeQuantize(w, groupSize: 64) : w }
        let rtn = try method.error(block..<(block + 1), TrainableLlama(rtnWeights), inputs, targets, batches)
        print(String(format: "SmolLM2 block %d w3 g64 output MSE: RTN %.5f, LWC init %.5f → trained %.5f (%.1f s)",
                     block, rtn, initial, final, Date().timeIntervalSince(started)))
        XCTAssertLessThan(final, initial)
        XCTAssertLessThan(final, rtn)
    }
}
