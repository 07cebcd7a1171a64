import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// QA-LoRA: the zero-point form against the paper's pooled-adapter form, gradients against finite
/// differences, the bit-exact merge after real training, and the loss drop on stories260K.
final class QALoRATests: XCTestCase {
    /// A small layer with a random 3-bit base and non-zero A, B.
    private func smallLayer() -> GroupPooledLoRA {
        var q = QuantizedMatrix(rows: 5, cols: 12, bits: 3, groupSize: 4)
        var rng = SeededRandom(seed: 2)
        for i in q.codes.indices { q.codes[i] = UInt8(rng.next() % 8) }
        for i in q.scales.indices {
            q.scales[i] = 0.2 + rng.nextUnitFloat()
            q.zeros[i] = Float(rng.next() % 8)
        }
        let layer = GroupPooledLoRA(base: q, rank: 2, scale: 1.5, name: "t", random: &rng)
        for i in 0..<layer.b.count { layer.b.value.pointer[i] = rng.nextGaussian() }
        return layer
    }

    /// y = x·W_qᵀ + c·pool(x)·Aᵀ·Bᵀ (the paper's form, in Double) equals the zero-point forward.
    func testZeroPointFormIsThePooledAdapter() {
        let t = smallLayer(), q = t.base, rows = 3, n = q.cols, m = q.rows, G = q.groupCount
        var rng = SeededRandom(seed: 5)
        let x = (0..<(rows * n)).map { _ in rng.nextGaussian() }
        var y = [Float](repeating: 0, count: rows * m)
        t.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
        let a = t.a.matrix, b = t.b.matrix, wq = q.dequantized()
        for r in 0..<rows {
            let pooled = (0..<G).map { g in (0..<q.groupSize).reduce(0.0) { $0 + Double(x[r * n + g * q.groupSize + $1]) } / Double(q.groupSize) }
            let xa = (0..<t.a.rows).map { k in (0..<G).reduce(0.0) { $0 + pooled[$1] * Double(a[k, $1]) } }
            for j in 0..<m {
                let base = (0..<n).reduce(0.0) { $0 + Double(x[r * n + $1]) * Double(wq[j, $1]) }
                let adapter = Double(t.scale) * (0..<t.a.rows).reduce(0.0) { $0 + xa[$1] * Double(b[j, $1]) }
                XCTAssertEqual(Double(y[r * m + j]), base + adapter, accuracy: 1e-4)
            }
        }
    }

    /// dA, dB and dx against central differences of Σ dy ⊙ y.
    func testGradientsMatchFiniteDifferences() {
        let t = smallLayer(), rows = 3, n = t.inFeatures, m = t.outFeatures
        var rng = SeededRandom(seed: 6)
        let x = (0..<(rows * n)).map { _ in rng.nextGaussian() }
        let dy = (0..<(rows * m)).map { _ in rng.nextGaussian() }
        func loss(_ x: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * m)
            t.apply(x, rows: rows, into: &y)
            return zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for p in t.parameters { p.zeroGradient() }
        var dx = [Float](repeating: 0, count: rows * n)
        t.forward(x, rows: rows, into: &dx, random: SeededRandom(seed: 0))
        t.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)
        let h: Float = 1e-2
        for p in t.parameters {
            for i in 0..<p.count {
                let v = p.value.pointer[i]
                p.value.pointer[i] = v + h
                let up = loss(x)
                p.value.pointer[i] = v - h
                let down = loss(x)
                p.value.pointer[i] = v
                XCTAssertEqual(Double(p.gradient.pointer[i]), (up - down) / Double(2 * h), accuracy: 2e-3, "\(p.name)[\(i)]")
            }
        }
        for i in 0..<x.count {
            var xp = x, xm = x
            xp[i] += h
            xm[i] -= h
            XCTAssertEqual(Double(dx[i]), (loss(xp) - loss(xm)) / Double(2 * h), accuracy: 2e-3, "dx[\(i)]")
        }
    }

    /// After real AdamW steps the merged model (same codes, new zeros) reproduces the training form
    /// bit for bit, and the held-out loss drops.
    func testStoriesMergeIsBitExactAndTrainingLowersLoss() throws {
        let run = try MethodRun.stories()
        let method = try MethodRegistry.make("qa-lora", options: MethodOptions(bits: 3, groupSize: 4, rank: 8, alpha: 16, extra: ["base": 0]))
        let trainer = try run.trainer(method, steps: 30, batch: 8, learningRate: 1e-2)
        let (before, after) = try run.heldOutLoss(trainer)
        print(String(format: "stories260K QA-LoRA w3 g4 r8: held-out loss %.4f → %.4f", before, after))
        XCTAssertLessThan(after, before - 0.01)

        let exported = try method.export(trainer.model)
        XCTAssertEqual(exported.mergeDifference, 0)
        XCTAssertEqual(exported.precision, .integer(bits: 3))
        try assertBitIdenticalLogits(trainer.model.inferenceModel(run.loaded.weights), exported.model, run.heldOut[0].tokens)
        let adapter = try XCTUnwrap(trainer.model.layer(LinearSite(layer: 0, projection: .q)) as? GroupPooledLoRA)
        let deployed = try XCTUnwrap(exported.model.blocks[0].q as? GridLinear).grid
        XCTAssertEqual(deployed.codes, adapter.base.codes)
        XCTAssertEqual(deployed.scales, adapter.base.scales)
        XCTAssertNotEqual(deployed.zeros, adapter.base.zeros, "training must move the zero points")
    }

    func testBadOptionsAreNamed() throws {
        assertInvalidOption("dropout") { _ = try QALoRA(options: MethodOptions(dropout: 0.05)) }
        assertInvalidOption("extra.base") { _ = try QALoRA(options: MethodOptions(extra: ["base": 0.5])) }
        assertInvalidOption("extra.omega") { _ = try QALoRA(options: MethodOptions(extra: ["omega": 3])) }
        assertInvalidOption("alpha") { _ = try QALoRA(options: MethodOptions(alpha: 0)) }
        let weights = try ModelLoader.load(Fixtures.stories260K).weights
        assertInvalidOption("bits") {
            _ = try QALoRA(options: MethodOptions(bits: 1, groupSize: 4, extra: ["base": 0])).prepare(MethodContext(weights: weights))
        }
        assertInvalidOption("calibration") { _ = try QALoRA(options: MethodOptions(groupSize: 4)).prepare(MethodContext(weights: weights)) }
    }
}
