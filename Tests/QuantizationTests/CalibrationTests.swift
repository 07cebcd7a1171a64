import Models
import Quantization
import Tensor
import TestSupport
import XCTest

final class CalibrationTests: XCTestCase {
    /// A tokenizer splitting on spaces into word ids, enough to see which document a window came from.
    struct WordTokenizer: Tokenizer {
        var vocabSize: Int { 1000 }
        var bosToken: Int? { nil }
        var eosToken: Int? { nil }
        var addsBOSByDefault: Bool { false }
        func encode(_ text: String) -> [Int] { text.split(separator: " ").map { Int($0)! } }
        func bytes(of token: Int) -> [UInt8] { Array("\(token) ".utf8) }
    }

    func testWindowsComeFromLongEnoughDocumentsAndFollowTheSeed() throws {
        let docs = [(0..<5), (100..<120), (200..<203), (300..<340)].map { $0.map(String.init).joined(separator: " ") }
        let a = try CalibrationWindows.sample(documents: docs, tokenizer: WordTokenizer(), count: 50, length: 8, seed: 0)
        XCTAssertEqual(a, try CalibrationWindows.sample(documents: docs, tokenizer: WordTokenizer(), count: 50, length: 8, seed: 0))
        XCTAssertNotEqual(a, try CalibrationWindows.sample(documents: docs, tokenizer: WordTokenizer(), count: 50, length: 8, seed: 1))
        var fromEach = Set<Int>()
        for w in a {
            XCTAssertEqual(w.count, 8)
            XCTAssertEqual(w, Array(w[0]..<(w[0] + 8)), "a contiguous run of one document")
            XCTAssertTrue(w[0] / 100 == 1 || w[0] / 100 == 3, "only documents longer than 8 tokens: \(w)")
            XCTAssertLessThan(w[7] % 100, w[0] / 100 == 1 ? 19 : 39, "the last token is never the window's target-less end")
            fromEach.insert(w[0] / 100)
        }
        XCTAssertEqual(fromEach, [1, 3])
        XCTAssertThrowsError(try CalibrationWindows.sample(documents: docs, tokenizer: WordTokenizer(), count: 4, length: 40, seed: 0)) {
            XCTAssertTrue("\($0)".contains("'calibrationLength' = 40"), "\($0)")
        }
    }

    /// The walk records block 0's attention Hessian from exactly RMSNorm(embedding) (GPTQ's
    /// 2/N Σ x xᵀ, N = sequences), and block 1 sees block 0's replacement layers.
    func testSequentialWalkRecordsInputsAndPropagatesReplacements() throws {
        let weights = TinyModel.weights()
        let c = weights.config, windows = TinyModel.windows(5, length: 12, seed: 3)
        let model = Llama(weights)
        var stats: [BlockStatistics] = []
        try SequentialCalibration(windows: windows, batchSize: 2).run(model) { l, s in
            stats.append(s)
            // Block 0's down projection is replaced by zeros: its MLP then adds nothing.
            return l == 0 ? [.down: DenseLinear(Matrix(zeros: c.dim, c.hiddenDim))] : [:]
        }
        let x = windows.flatMap { $0 }.flatMap { weights.tokenEmbedding.row($0) }
        var normed = [Float](repeating: 0, count: x.count)
        RMSNorm.forward(x, weight: weights.layers[0].attnNorm, eps: c.normEps, rows: x.count / c.dim, dim: c.dim, into: &normed)
        var direct = HessianAccumulator(dimension: c.dim)
        direct.add(rows: normed, count: x.count / c.dim, samples: windows.count)
        let h = stats[0].hessian(for: .k).hessian(), d = direct.hessian()
        XCTAssertEqual(stats[0].hessian(for: .q).sampleCount, 5)
        for i in h.indices { XCTAssertEqual(h[i], d[i], accuracy: 1e-4 * abs(d[i]) + 1e-6) }
        XCTAssertEqual(stats[1].hessian(for: .gate).dimension, c.dim)
        XCTAssertEqual(stats[1].hessian(for: .down).dimension, c.hiddenDim)

        // Block 1's inputs came from the modified block 0: recompute them that way.
        let modified = Llama(weights)
        modified.blocks[0].down = DenseLinear(Matrix(zeros: c.dim, c.hiddenDim))
        var expected = HessianAccumulator(dimension: c.dim)
        for w in windows {
            var hidden = try modified.embed(TokenBatch(w))
            try modified.runBlocks(0..<1, hidden: &hidden, batch: TokenBatch(w))
            var n1 = [Float](repeating: 0, count: hidden.count)
            RMSNorm.forward(hidden, weight: weights.layers[1].attnNorm, eps: c.normEps, rows: w.count, dim: c.dim, into: &n1)
            expected.add(rows: n1, count: w.count)
        }
        let h1 = stats[1].hessian(for: .v).hessian(), e1 = expected.hessian()
        for i in h1.indices { XCTAssertEqual(h1[i], e1[i], accuracy: 1e-4 * abs(e1[i]) + 1e-6) }
    }
}
