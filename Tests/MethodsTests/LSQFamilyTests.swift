import Foundation
@testable import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// QAT-LoRA, PEQA and full QAT: backwards against float64 references (and finite differences for
/// PEQA's scales), short real 3-bit fine-tunes on stories260K, and bit-exact exports.
final class LSQFamilyTests: XCTestCase {
    let (rows, m, n, gs, bits) = (9, 40, 96, 32, 3)

    /// A random (m × n) weight, nudged so no element sits within 1e-3 of an STE discontinuity for
    /// the L4Q_init steps × 0.75 and the offsets that `setUpQuantizer` writes.
    func quantizedLayer(trainable: Bool, seed: UInt64) -> LearnedStepLinear {
        var rng = SeededRandom(seed: seed)
        var w = Matrix(rows: m, cols: n, storage: gaussian(m * n, 0.05, &rng))
        let q = LearnedStepQuantizer(bits: bits, groupSize: gs)
        var steps = [Float](repeating: 0, count: m * n / gs), offsets = steps
        q.initialize(w.storage, rows: m, cols: n, step: &steps, offset: &offsets)
        steps = steps.map { 0.75 * $0 }
        offsets = steps.map { 0.4 * $0 * rng.nextGaussian() }
        for i in 0..<w.count {
            let g = (i / n) * (n / gs) + (i % n) / gs
            if LearnedStepReference.margin(Double(w.storage[i]), s: Double(steps[g]), b: Double(offsets[g]), bits: bits) < 1e-3 {
                w.storage[i] += 0.01 * steps[g]
            }
        }
        let layer = LearnedStepLinear(base: DenseLinear(w), trainable: trainable, quantizer: q, name: "t", scratch: WeightScratch())
        layer.step.assign(Matrix(rows: m, cols: n / gs, storage: steps))
        layer.offset.assign(Matrix(rows: m, cols: n / gs, storage: offsets))
        return layer
    }

    func weightDoubles(_ l: LearnedStepLinear) -> [Double] {
        switch l.weight {
        case .frozen(let w): return doubles(w)
        case .trainable(let p): return p.doubles
        }
    }

    func testQATLoRABackwardMatchesReference() {
        let base = quantizedLayer(trainable: false, seed: 3)
        var init_ = SeededRandom(seed: 4)
        let lora = LoRALinear(base: base, config: LoRAConfig(rank: 4, alpha: 8), name: "t", random: &init_)
        var rng = SeededRandom(seed: 5)
        lora.b.assign(Matrix(rows: m, cols: 4, storage: gaussian(m * 4, 0.1, &rng)))
        let layer = QATLoRALinear(base, adapter: lora)
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
        layer.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
        layer.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)

        let xd = x.map(Double.init), dyd = dy.map(Double.init), a = lora.a.doubles, b = lora.b.doubles, alpha = 2.0
        let ref = LearnedStepReference.quantize(weightDoubles(base), s: base.step.doubles, b: base.offset.doubles,
                                                rows: m, cols: n, gs: gs, bits: bits)
        let g = LearnedStepReference.matmul(dyd, xd, m: m, n: n, k: rows, transA: true)
        let xa = LearnedStepReference.matmul(xd, a, m: rows, n: 4, k: n, transB: true)
        let dxa = LearnedStepReference.matmul(dyd, b, m: rows, n: 4, k: m).map { alpha * $0 }
        let yRef = zip(LearnedStepReference.matmul(xd, ref.wq, m: rows, n: m, k: n, transB: true),
                       LearnedStepReference.matmul(xa, b, m: rows, n: m, k: 4, transB: true)).map { $0 + alpha * $1 }
        let dxRef = zip(LearnedStepReference.matmul(dyd, ref.wq, m: rows, n: n, k: m),
                        LearnedStepReference.matmul(dxa, a, m: rows, n: n, k: 4)).map(+)
        let checks: [(String, [Float], [Double])] = [
            ("y", y, yRef), ("dx", dx, dxRef),
            ("ds", base.step.gradientDoubles, LearnedStepReference.groupSums(g, ref.dStep, rows: m, cols: n, gs: gs)),
            ("db", base.offset.gradientDoubles, LearnedStepReference.groupSums(g, ref.dOffset, rows: m, cols: n, gs: gs)),
            ("dA", lora.a.gradientDoubles, LearnedStepReference.matmul(dxa, xd, m: 4, n: n, k: rows, transA: true)),
            ("dB", lora.b.gradientDoubles, LearnedStepReference.matmul(dyd, xa, m: m, n: 4, k: rows, transA: true).map { alpha * $0 }),
        ]
        for (name, got, want) in checks { XCTAssertLessThanOrEqual(relativeError(got, want), 1e-4, name) }
        XCTAssertTrue(ref.mask.contains(0), "the check must cover clipped weights")
    }

    func testFullQATBackwardMatchesReference() {
        let layer = quantizedLayer(trainable: true, seed: 6)
        var rng = SeededRandom(seed: 7)
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
        layer.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
        layer.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)

        let xd = x.map(Double.init), dyd = dy.map(Double.init)
        let ref = LearnedStepReference.quantize(weightDoubles(layer), s: layer.step.doubles, b: layer.offset.doubles,
                                                rows: m, cols: n, gs: gs, bits: bits)
        let g = LearnedStepReference.matmul(dyd, xd, m: m, n: n, k: rows, transA: true)
        let checks: [(String, [Float], [Double])] = [
            ("y", y, LearnedStepReference.matmul(xd, ref.wq, m: rows, n: m, k: n, transB: true)),
            ("dx", dx, LearnedStepReference.matmul(dyd, ref.wq, m: rows, n: n, k: m)),
            ("dW", layer.trainedWeight!.gradientDoubles, zip(g, ref.mask).map(*)),
            ("ds", layer.step.gradientDoubles, LearnedStepReference.groupSums(g, ref.dStep, rows: m, cols: n, gs: gs)),
            ("db", layer.offset.gradientDoubles, LearnedStepReference.groupSums(g, ref.dOffset, rows: m, cols: n, gs: gs)),
        ]
        for (name, got, want) in checks { XCTAssertLessThanOrEqual(relativeError(got, want), 1e-4, name) }
    }

    /// The LSQ gradient-scale switch multiplies the s and b gradients by 1/√(groupSize·Q_P).
    /// The quantizer's C kernel (vectorized however the build targets) against its math written one
    /// element at a time in Swift: the same IEEE operations per element, the group sums over 16
    /// lanes with fused multiply–adds, the lanes then added in order from −0. Bit for bit, for
    /// groups of 32 and a per-channel group of 172 (not a multiple of 16: a zero-padded last
    /// vector), steps small enough that a quarter of the weights clip, g = 1/√(N·Q_P).
    func testKernelEqualsItsScalarTranscription() {
        for (cols, group) in [(96, 32), (172, 172)] {
            let q = LearnedStepQuantizer(bits: 3, groupSize: group, gradientScale: .lsq), rows = 7
            var rng = SeededRandom(seed: UInt64(cols))
            let w = gaussian(rows * cols, 0.05, &rng), grad = gaussian(rows * cols, 1, &rng)
            var steps = [Float](repeating: 0, count: rows * cols / group), offsets = steps
            q.initialize(w, rows: rows, cols: cols, step: &steps, offset: &offsets)
            steps = steps.map { 0.6 * $0 }
            offsets = steps.map { 0.4 * $0 * rng.nextGaussian() }
            var fake = w, masked = grad, quantized = w, dStep = steps.map { _ in Float(0.25) }, dOffset = dStep
            q.fakeQuantize(&fake, rows: rows, cols: cols, step: steps, offset: offsets)
            q.backward(weight: w, rows: rows, cols: cols, step: steps, offset: offsets, gradient: grad, masked: &masked,
                       quantized: &quantized, dStep: &dStep, dOffset: &dOffset)
            var wantMasked = grad, wantQuantized = w, wantStep = dStep, wantOffset = dOffset, clipped = 0
            for i in 0..<steps.count {
                let s = steps[i], b = offsets[i], z = -q.qn - b / s
                var ds = [Float](repeating: 0, count: 16), db = ds
                for j in 0..<((group + 15) / 16 * 16) {
                    let inGroup = j < group, at = i * group + j
                    let wv: Float = inGroup ? w[at] : 0, gv: Float = inGroup ? grad[at] : 0
                    let ratio = (wv - b) / s, inside = ratio >= q.qn && ratio <= q.qp
                    let code = min(max(ratio, q.qn), q.qp).rounded(.toNearestOrEven)
                    ds[j % 16] = ds[j % 16].addingProduct(gv, code - (inside ? ratio : 0))
                    db[j % 16] = db[j % 16] + (inside ? 0 : gv)
                    guard inGroup else { continue }
                    wantMasked[at] = inside ? gv : 0
                    wantQuantized[at] = s * ((code - q.qn) - z)
                    if !inside { clipped += 1 }
                }
                wantStep[i] = 0.25 + q.g * ds.reduce(-0, +)
                wantOffset[i] = 0.25 + q.g * db.reduce(-0, +)
            }
            XCTAssertEqual(fake.map(\.bitPattern), wantQuantized.map(\.bitPattern), "fake quantization, groups of \(group)")
            XCTAssertEqual(quantized.map(\.bitPattern), wantQuantized.map(\.bitPattern), "backward's W_q, groups of \(group)")
            XCTAssertEqual(masked.map(\.bitPattern), wantMasked.map(\.bitPattern), "M ⊙ G, groups of \(group)")
            XCTAssertEqual(dStep.map(\.bitPattern), wantStep.map(\.bitPattern), "s gradients, groups of \(group)")
            XCTAssertEqual(dOffset.map(\.bitPattern), wantOffset.map(\.bitPattern), "b gradients, groups of \(group)")
            XCTAssertGreaterThan(clipped, w.count / 20, "the check must cover clipped weights")
        }
    }

    func testLSQGradientScaleOption() throws {
        let plain = quantizedLayer(trainable: false, seed: 8)
        let scaled = LearnedStepLinear(base: DenseLinear(Matrix(rows: m, cols: n, storage: weightDoubles(plain).map(Float.init))), trainable: false,
                                       quantizer: LearnedStepQuantizer(bits: bits, groupSize: gs, gradientScale: .lsq),
                                       name: "t", scratch: WeightScratch())
        scaled.step.assign(plain.step.matrix)
        scaled.offset.assign(plain.offset.matrix)
        var rng = SeededRandom(seed: 9)
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        for l in [plain, scaled] { l.weightBackward(dy, input: x, rows: rows) }
        let g = 1 / (Float(gs) * 3).squareRoot()
        for i in 0..<plain.step.count {
            XCTAssertEqual(scaled.step.gradient.pointer[i], g * plain.step.gradient.pointer[i], accuracy: 1e-6)
            XCTAssertEqual(scaled.offset.gradient.pointer[i], g * plain.offset.gradient.pointer[i], accuracy: 1e-6)
        }
        let method = try MethodRegistry.make("l4q", options: MethodOptions(rank: 4, extra: ["lsqGradientScale": 1])) as! L4Q
        XCTAssertEqual(method.layout.learnedStep(inputs: 576).gradientScale, .lsq)
    }

    func testPEQABackwardMatchesReferenceAndFiniteDifferences() throws {
        var rng = SeededRandom(seed: 10)
        let w = Matrix(rows: m, cols: n, storage: gaussian(m * n, 0.05, &rng))
        let grid = try UniformQuantizer(bits: bits, grid: .asymmetric).quantize(w, groupSize: gs)
        let layer = PEQALinear(grid, trainable: true, name: "t", scratch: WeightScratch())
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
        layer.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
        layer.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)

        let gc = n / gs, s = layer.scale.doubles
        var wq = [Double](repeating: 0, count: m * n), centred = wq
        for i in 0..<(m * n) {
            let g = (i / n) * gc + (i % n) / gs
            centred[i] = Double(grid.codes[i]) - Double(grid.zeros[g])
            wq[i] = s[g] * centred[i]
        }
        let xd = x.map(Double.init), dyd = dy.map(Double.init)
        let g = LearnedStepReference.matmul(dyd, xd, m: m, n: n, k: rows, transA: true)
        XCTAssertLessThanOrEqual(relativeError(y, LearnedStepReference.matmul(xd, wq, m: rows, n: m, k: n, transB: true)), 1e-5)
        XCTAssertLessThanOrEqual(relativeError(dx, LearnedStepReference.matmul(dyd, wq, m: rows, n: n, k: m)), 1e-5)
        let ds = layer.scale.gradientDoubles
        XCTAssertLessThanOrEqual(relativeError(ds, LearnedStepReference.groupSums(g, centred, rows: m, cols: n, gs: gs)), 1e-5)

        // L = Σ dy ⊙ y is linear in each scale, so central differences are exact up to float rounding.
        func loss() -> Double {
            var out = [Float](repeating: 0, count: rows * m)
            layer.apply(x, rows: rows, into: &out)
            return zip(out, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for i in [0, 17, m * gc - 1] {
            let s0 = layer.scale.value.pointer[i], h = 0.05 * s0
            layer.scale.value.pointer[i] = s0 + h
            let up = loss()
            layer.scale.value.pointer[i] = s0 - h
            let down = loss()
            layer.scale.value.pointer[i] = s0
            XCTAssertEqual((up - down) / Double(2 * h), Double(ds[i]), accuracy: 2e-3 * max(1, abs(Double(ds[i]))), "scale \(i)")
        }
    }

    /// 3-bit, per-channel: each method lowers held-out loss from its own start on stories260K, and
    /// its export computes the training forward's logits bit for bit.
    func testStoriesShortRunsLowerLossAndExportBitIdentical() throws {
        let run = try MethodRun.stories()
        let cases: [(String, MethodOptions, Float, DeployedPrecision)] = [
            ("qat-lora", MethodOptions(bits: 3, rank: 4, alpha: 8, extra: ["perChannel": 1]), 5e-3, .mixed(bits: 3)),
            ("peqa", MethodOptions(bits: 3, extra: ["perChannel": 1]), 5e-3, .integer(bits: 3)),
            ("qat", MethodOptions(bits: 3, extra: ["perChannel": 1]), 1e-3, .integer(bits: 3)),
        ]
        for (name, options, lr, precision) in cases {
            let method = try MethodRegistry.make(name, options: options)
            let trainer = try run.trainer(method, steps: 12, batch: 8, learningRate: lr)
            let (before, after) = try run.heldOutLoss(trainer)
            print(String(format: "stories260K %@ w3 per-channel: held-out loss %.4f → %.4f", name, before, after))
            XCTAssertLessThan(after, before - 0.02, name)
            let exported = try method.export(trainer.model)
            XCTAssertEqual(exported.precision, precision, name)
            XCTAssertEqual(exported.mergeDifference, 0, name)
            try assertBitIdenticalLogits(trainer.model.inferenceModel(run.loaded.weights), exported.model, run.heldOut[1].tokens)
        }
    }
}
