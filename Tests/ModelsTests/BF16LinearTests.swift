import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The bf16-only frozen layer (`BF16Linear`) and the model built for bf16 scoring
/// (`Llama(_:precision: .bf16)`): the same products as the fp32 layers' cached bf16 copies where
/// those run in bf16, the bf16 recipe's bound where they would have stayed sgemm, and no fp32
/// projection or head kept.
final class BF16LinearTests: XCTestCase {
    func gaussians(_ n: Int, _ rng: inout SeededRandom) -> [Float] { (0..<n).map { _ in rng.nextGaussian() } }

    /// y = x·Wᵀ through `layer` in a bf16 scope.
    func apply(_ layer: any LinearOperator, _ x: [Float], rows: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * layer.outFeatures)
        ComputePrecision.with(.bf16) {
            x.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { layer.apply(x.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        }
        return y
    }

    /// Large enough for `BF16.applies`: the very bits of `DenseLinear`'s cached-copy product.
    func testLargeProductsMatchTheCachedCopyBitForBit() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 3)
        let out = 96, inF = 200, rows = 40
        XCTAssertGreaterThanOrEqual(rows * out * inF, BF16.minimumProduct)
        let w = Matrix(rows: out, cols: inF, storage: gaussians(out * inF, &rng)), x = gaussians(rows * inF, &rng)
        let cached = apply(DenseLinear(w), x, rows: rows), only = apply(BF16Linear(BF16Matrix(w)), x, rows: rows)
        XCTAssertEqual(only.map(\.bitPattern), cached.map(\.bitPattern))
    }

    /// Below the threshold (single rows, as decoding runs) the product is still bf16 × bf16 → fp32:
    /// within (k + 2)·2⁻²⁴·Σ|x||w| of the exact product of the bf16-rounded operands (the bound of
    /// `BF16GEMMTests`), and not the sgemm result `DenseLinear` gives there.
    func testSmallProductsAreTheBF16Product() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 8)
        let out = 64, inF = 160
        let w = Matrix(rows: out, cols: inF, storage: gaussians(out * inF, &rng))
        let layer = BF16Linear(BF16Matrix(w))
        func rounded(_ v: [Float]) -> [Float] {
            var bits = [UInt16](repeating: 0, count: v.count)
            BF16.round(v, ld: v.count, rows: 1, cols: v.count, into: &bits, ldOut: v.count)
            return bits.map(BF16.float)
        }
        let wr = rounded(w.storage)
        for rows in [1, 2, 3] {
            XCTAssertLessThan(rows * out * inF, BF16.minimumProduct)
            let x = gaussians(rows * inF, &rng), xr = rounded(x)
            let y = apply(layer, x, rows: rows)
            var worst = 0.0
            for r in 0..<rows {
                for o in 0..<out {
                    var exact = 0.0, magnitude = 0.0
                    for i in 0..<inF {
                        let p = Double(xr[r * inF + i]) * Double(wr[o * inF + i])
                        exact += p
                        magnitude += abs(p)
                    }
                    worst = max(worst, abs(Double(y[r * out + o]) - exact) / (Double(inF + 2) * 0x1p-24 * magnitude))
                }
            }
            XCTAssertLessThanOrEqual(worst, 1, "\(rows) rows: error / bound")
            XCTAssertNotEqual(y.map(\.bitPattern), apply(DenseLinear(w), x, rows: rows).map(\.bitPattern), "\(rows) rows stayed fp32")
        }
    }

    func layers(_ model: Llama) -> [any LinearOperator] { model.blocks.flatMap { b in Projection.allCases.map { b[$0] } } + [model.head] }

    /// bf16: every projection and the head held only in bf16, the embedding kept in fp32. fp32, and
    /// bf16 where it falls back (forced here with `QAFT_FORCE_FP32`): the dense fp32 layers.
    func testBF16ModelHoldsNoFP32ProjectionOrHead() throws {
        let weights = try ModelLoader.load(Fixtures.stories260K).weights
        XCTAssert(layers(Llama(weights)).allSatisfy { $0 is DenseLinear })
        XCTAssert(layers(Llama(weights, precision: .fp32)).allSatisfy { $0 is DenseLinear })
        setenv("QAFT_FORCE_FP32", "1", 1)
        let fallback = Llama(weights, precision: .bf16)
        unsetenv("QAFT_FORCE_FP32")
        XCTAssert(layers(fallback).allSatisfy { $0 is DenseLinear })
        try requireBF16()
        let model = Llama(weights, precision: .bf16)
        XCTAssert(layers(model).allSatisfy { $0 is BF16Linear })
        XCTAssertEqual(model.tokenEmbedding, weights.tokenEmbedding)
        XCTAssertNotNil(model.replica(), "bf16 layers are shared by data-parallel scorers")
        let head = try XCTUnwrap(model.head as? BF16Linear)
        XCTAssertEqual(head.weight.storage, BF16Matrix(weights.head).storage)
    }

    /// Scoring a batch whose every product is large enough to run in bf16 (stories260K's narrowest,
    /// k/v at 64 → 32, from 128 rows): the bf16-only model gives the log-probabilities of the fp32
    /// model run in a bf16 scope bit for bit, and they differ from fp32's.
    func testStoriesScoresMatchTheCachedCopyModel() throws {
        try requireBF16()
        try assertSameScores(ModelLoader.load(Fixtures.stories260K).weights, sequences: 2, length: 128)
    }

    /// The same on SmolLM2 (every product runs in bf16 from 3 rows).
    func testSmolLM2ScoresMatchTheCachedCopyModel() throws {
        try requireBF16()
        try assertSameScores(ModelLoader.load(Fixtures.smolLM2()).weights, sequences: 2, length: 48)
    }

    func assertSameScores(_ weights: LlamaWeights, sequences: Int, length: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededRandom(seed: 5)
        let tokens = (0..<sequences).map { _ in (0..<length).map { _ in Int(rng.next() % UInt64(weights.config.vocabSize)) } }
        let cached = try ComputePrecision.with(.bf16) { try Llama(weights).nextTokenLogProbabilities(tokens) }
        let only = try ComputePrecision.with(.bf16) { try Llama(weights, precision: .bf16).nextTokenLogProbabilities(tokens) }
        let fp32 = try Llama(weights).nextTokenLogProbabilities(tokens)
        XCTAssertEqual(only.flatMap { $0.map(\.bitPattern) }, cached.flatMap { $0.map(\.bitPattern) }, file: file, line: line)
        XCTAssertNotEqual(only.flatMap { $0.map(\.bitPattern) }, fp32.flatMap { $0.map(\.bitPattern) }, file: file, line: line)
    }
}
