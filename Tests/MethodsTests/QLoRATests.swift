import Foundation
@testable import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// QLoRA (NF4), QLoRA* (uniform) and LoftQ*: float LoRA over a frozen quantized base.
final class QLoRATests: XCTestCase {
    /// The on-the-fly NF4 layer computes with exactly the NF4 tensor's dequantized weight.
    func testNF4LinearAppliesTheDequantizedTensor() {
        var rng = SeededRandom(seed: 1)
        let (out, n) = (5, 150)
        let w = Matrix(rows: out, cols: n, storage: (0..<(out * n)).map { _ in 0.1 * rng.nextGaussian() })
        let layer = NF4Linear(w)
        var identity = [Float](repeating: 0, count: n * n)
        for i in 0..<n { identity[i * n + i] = 1 }
        var y = [Float](repeating: 0, count: n * out)
        layer.apply(identity, rows: n, into: &y)
        let expected = layer.tensor.dequantized()
        for j in 0..<out { for i in 0..<n { XCTAssertEqual(y[i * out + j], expected[j * n + i]) } }
        XCTAssertEqual(NF4Linear.bitsPerWeight, 4.127, accuracy: 1e-3)
    }

    /// In a bf16 scope the NF4 layer decodes straight to bf16: bit for bit the dense bf16 products
    /// of its dequantized weight, forward and input gradient (overwritten and accumulated).
    func testNF4LinearBF16ProductsEqualTheDenseBF16Products() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 3)
        let (out, n, rows) = (192, 5000 / 8, 96)  // 120,000 weights: 1,875 blocks, several rounding pieces
        let w = Matrix(rows: out, cols: n, storage: (0..<(out * n)).map { _ in 0.1 * rng.nextGaussian() })
        let layer = NF4Linear(w), dense = DenseLinear(Matrix(rows: out, cols: n, storage: layer.tensor.dequantized()))
        let x = (0..<(rows * n)).map { _ in rng.nextGaussian() }, dy = (0..<(rows * out)).map { _ in rng.nextGaussian() }
        let base = (0..<(rows * n)).map { _ in rng.nextGaussian() }
        var y = [Float](repeating: 0, count: rows * out), yDense = y, yFP32 = y
        var dx = base, dxDense = base, dxSum = base, dxSumDense = base
        ComputePrecision.with(.bf16) {
            XCTAssertTrue(BF16.applies(m: rows, n: out, k: n))
            layer.apply(x, rows: rows, into: &y)
            dense.apply(x, rows: rows, into: &yDense)
            layer.applyTransposed(dy, rows: rows, into: &dx, accumulate: false)
            dense.applyTransposed(dy, rows: rows, into: &dxDense, accumulate: false)
            layer.applyTransposed(dy, rows: rows, into: &dxSum, accumulate: true)
            dense.applyTransposed(dy, rows: rows, into: &dxSumDense, accumulate: true)
        }
        layer.apply(x, rows: rows, into: &yFP32)
        XCTAssertEqual(y.map(\.bitPattern), yDense.map(\.bitPattern))
        XCTAssertEqual(dx.map(\.bitPattern), dxDense.map(\.bitPattern))
        XCTAssertEqual(dxSum.map(\.bitPattern), dxSumDense.map(\.bitPattern))
        XCTAssertNotEqual(y, yFP32, "outside the scope the product is fp32")
    }

    /// The truncated SVD reproduces a matrix of exactly rank r.
    func testLowRankRecoversARankRMatrix() throws {
        var rng = SeededRandom(seed: 2)
        let u = Matrix(rows: 7, cols: 3, storage: (0..<21).map { _ in rng.nextGaussian() })
        let v = Matrix(rows: 3, cols: 11, storage: (0..<33).map { _ in rng.nextGaussian() })
        var m = Matrix(zeros: 7, 11)
        for j in 0..<7 { for i in 0..<11 { m[j, i] = (0..<3).reduce(0) { $0 + u[j, $1] * v[$1, i] } } }
        let (left, right) = try LoftQ.lowRank(m, rank: 3, site: LinearSite(layer: 0, projection: .q))
        for j in 0..<7 {
            for i in 0..<11 {
                XCTAssertEqual((0..<3).reduce(0) { $0 + left[j, $1] * right[$1, i] }, m[j, i], accuracy: 1e-4)
            }
        }
    }

    /// Each method's short AdamW run on stories260K lowers the held-out loss from its own start; LoftQ's
    /// start is closer to the float weights than plain RTN's.
    func testStoriesRunsLowerHeldOutLoss() throws {
        let run = try MethodRun.stories()
        let cases: [(String, MethodOptions)] = [
            ("qlora", MethodOptions(bits: 4, rank: 8, alpha: 16)),
            ("qlora-uniform", MethodOptions(bits: 3, groupSize: 4, rank: 8, alpha: 16)),
            ("loftq", MethodOptions(bits: 3, groupSize: 4, rank: 8, alpha: 16, extra: ["iterations": 2])),
        ]
        for (name, options) in cases {
            let method = try MethodRegistry.make(name, options: options)
            let trainer = try run.trainer(method, steps: 30, batch: 8, learningRate: 5e-3)
            let (before, after) = try run.heldOutLoss(trainer)
            let exported = try method.export(trainer.model)
            print(String(format: "stories260K %@ (%@, %.2f bits/weight): held-out loss %.4f → %.4f %@",
                         name, exported.precision.description, exported.bitsPerWeight, before, after, exported.metrics.description))
            XCTAssertLessThan(after, before - 0.01, name)
            XCTAssertEqual(exported.precision, .mixed(bits: options.bits), name)
            XCTAssertNil(exported.mergeDifference, name)
            try assertBitIdenticalLogits(trainer.model.inferenceModel(run.loaded.weights), exported.model, run.heldOut[0].tokens)
            if name == "loftq" { XCTAssertLessThan(exported.metrics["initialError"]!, exported.metrics["rtnError"]!) }
        }
    }

    func testBadOptionsAreNamed() throws {
        assertInvalidOption("bits") { _ = try QLoRA(options: MethodOptions(bits: 3)) }
        assertInvalidOption("extra.base") { _ = try QLoRA(options: MethodOptions(extra: ["base": 1])) }
        assertInvalidOption("extra.base") { _ = try QLoRAUniform(options: MethodOptions(extra: ["base": 7])) }
        assertInvalidOption("extra.iterations") { _ = try LoftQ(options: MethodOptions(extra: ["iterations": 0])) }
        assertInvalidOption("extra.iterations") { _ = try LoftQ(options: MethodOptions(extra: ["iterations": 1.5])) }
        assertInvalidOption("rank") { _ = try LoftQ(options: MethodOptions(rank: -1)) }
        let weights = try ModelLoader.load(Fixtures.stories260K).weights
        assertInvalidOption("rank") {
            _ = try LoftQ(options: MethodOptions(groupSize: 4, rank: 65)).prepare(MethodContext(weights: weights))
        }
        assertInvalidOption("groupSize") { _ = try QLoRAUniform(options: MethodOptions(groupSize: 48)).prepare(MethodContext(weights: weights)) }
    }
}
