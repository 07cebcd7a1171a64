import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// LoTA-QAF: the ternary adjustment against hand-worked and reference values, its lossless merge,
/// and real short runs on stories260K and SmolLM2-135M.
final class LoTAQAFTests: XCTestCase {
    /// The Figure-3 set-up (4-bit, 4×4, r = 3, ω = 1, codes at 0 and 15), worked by hand: blocked
    /// steps leave Ŵ = 0 and go into μ; the others move one grid step.
    func testHandWorkedAdjustmentWithBoundaryMasks() throws {
        var base = QuantizedMatrix(rows: 4, cols: 4, bits: 4, groupSize: 4)
        base.codes = [15, 3, 7, 0, 14, 15, 0, 5, 0, 8, 8, 15, 1, 2, 3, 4]
        base.scales = [0.5, 0.25, 1, 2]
        base.zeros = [8, 8, 8, 8]
        var rng = SeededRandom(seed: 1)
        let t = TernaryAdapter(base: base, rank: 3, omega: 1, paperOffset: false, name: "t", random: &rng)
        t.a.assign(Matrix(rows: 3, cols: 4, storage: [1, 1, 0, -1, 1, 0, 1, -1, 0, 1, 1, -1]))
        t.b.assign(Matrix(rows: 4, cols: 3, storage: [1, 1, 0, 1, 1, 1, -1, -1, 0, 0, 0, 1]))
        // ΔW = B·A = [2 1 1 −2; 2 2 2 −3; −2 −1 −1 2; 0 1 1 −1].
        let merged = t.mergedGrid
        XCTAssertEqual(merged.codes, [15, 3, 7, 0, 15, 15, 1, 4, 0, 8, 8, 15, 1, 2, 3, 4])
        XCTAssertEqual(merged.zeros, [7.5, 7.5, 8.5, 7.75])
        XCTAssertEqual(merged.scales, base.scales)
        let s = t.statistics
        XCTAssertEqual([s.raised, s.lowered, s.blocked], [2, 1, 5])
        XCTAssertEqual(s.maxAbsDelta, 3)
        // The layer computes with s·(q' − z').
        let x: [Float] = [1, 0, 0, 0]
        var y = [Float](repeating: 0, count: 4)
        t.apply(x, rows: 1, into: &y)
        XCTAssertEqual(y, [3.75, 1.875, -8.5, -13.5] as [Float])
    }

    /// Forward against s·(q − z + Ŵ + μ) in Double; backward against the code's backward written
    /// out naively and against finite differences of the STE surrogate (Ŵ frozen, identity path
    /// for ΔW, μ differentiable), for both offset forms.
    func testForwardAndBackwardMatchReference() throws {
        for paperOffset in [false, true] {
            let reference = TernaryReference(paperOffset: paperOffset)
            let t = reference.layer()
            let (rows, n, m) = (3, reference.base.cols, reference.base.rows)
            var rng = SeededRandom(seed: 9)
            let x = (0..<(rows * n)).map { _ in rng.nextGaussian() }
            let dy = (0..<(rows * m)).map { _ in rng.nextGaussian() }
            var y = [Float](repeating: 0, count: rows * m)
            t.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
            let d0 = reference.delta(t.a.matrix, t.b.matrix), w = reference.weight(d0, at: d0)
            XCTAssertEqual(t.mergedGrid.codes.map(Double.init), zip(reference.base.codes, reference.steps(d0)).map { Double($0) + $1 })
            for r in 0..<rows {
                for j in 0..<m {
                    let expected = (0..<n).reduce(0.0) { $0 + Double(x[r * n + $1]) * w[j * n + $1] }
                    XCTAssertEqual(Double(y[r * m + j]), expected, accuracy: 1e-4)
                }
            }
            for p in t.parameters { p.zeroGradient() }
            var dx = [Float](repeating: 0, count: rows * n)
            t.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)
            let naive = reference.codeBackward(t, x: x, dy: dy, rows: rows)
            for (i, v) in naive.dA.enumerated() { XCTAssertEqual(Double(t.a.gradient.pointer[i]), v, accuracy: 1e-4) }
            for (i, v) in naive.dB.enumerated() { XCTAssertEqual(Double(t.b.gradient.pointer[i]), v, accuracy: 1e-4) }
            for (i, v) in naive.dx.enumerated() { XCTAssertEqual(Double(dx[i]), v, accuracy: 1e-4) }
            let numeric = reference.surrogateGradient(t, x: x, dy: dy, rows: rows)
            for (i, v) in numeric.dA.enumerated() { XCTAssertEqual(Double(t.a.gradient.pointer[i]), v, accuracy: 1e-5 + 1e-5 * abs(v)) }
            for (i, v) in numeric.dB.enumerated() { XCTAssertEqual(Double(t.b.gradient.pointer[i]), v, accuracy: 1e-5 + 1e-5 * abs(v)) }
            XCTAssertGreaterThan(t.statistics.raised + t.statistics.lowered, 0, "the reference layer must move codes")
            XCTAssertGreaterThan(t.statistics.blocked, 0, "the reference layer must exercise the masks")
        }
    }

    /// The build and the backward's group sums split their rows over the two cores when OpenBLAS
    /// may use both: on one core or two the layer's grid, statistics, output and gradients agree
    /// bit for bit.
    func testOneCoreAndTwoCoresAgreeBitForBit() throws {
        let reference = TernaryReference(paperOffset: false)
        let (rows, n, m) = (3, reference.base.cols, reference.base.rows)
        var rng = SeededRandom(seed: 12)
        let x = (0..<(rows * n)).map { _ in rng.nextGaussian() }, dy = (0..<(rows * m)).map { _ in rng.nextGaussian() }
        let threads = BLAS.threads
        defer { BLAS.setThreads(threads) }
        let runs = [1, 2].map { cores -> (QuantizedMatrix, TernaryStatistics, [Float]) in
            BLAS.setThreads(cores)
            let t = reference.layer()
            var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
            t.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
            for p in t.parameters { p.zeroGradient() }
            t.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)
            return (t.mergedGrid, t.statistics, y + dx + t.a.gradient.array(t.a.count) + t.b.gradient.array(t.b.count))
        }
        XCTAssertEqual(runs[0].0, runs[1].0)
        XCTAssertEqual(runs[0].1, runs[1].1)
        XCTAssertEqual(runs[0].2.map(\.bitPattern), runs[1].2.map(\.bitPattern))
    }

    /// At step 0 (B = 0) the adapter is a no-op: the model equals its quantized base exactly.
    func testAdapterStartsAsTheQuantizedBase() throws {
        let run = try MethodRun.stories()
        let method = try MethodRegistry.make("lota-qaf", options: MethodOptions(bits: 3, groupSize: 4, rank: 8, extra: ["base": 0]))
        let model = try method.prepare(MethodContext(weights: run.loaded.weights, seed: 1))
        let grid = try UniformQuantizer(bits: 3, grid: .asymmetric)
        let rtn = try run.loaded.weights.mapLinears { _, w in try grid.fakeQuantize(w, groupSize: 4) }
        XCTAssertEqual(try logitDifference(model.inferenceModel(run.loaded.weights), Llama(rtn)), 0)
    }

    /// A weight decay given to a fine-tune (`qaft finetune --weight-decay`, a manifest's
    /// `weightDecay`) reaches AdamW groups only: LoTA-QAF keeps its ternary sign-SGD, LoRA's AdamW
    /// takes the decay.
    func testWeightDecayLeavesTheTernarySignSGDAlone() throws {
        let run = try MethodRun.stories()
        let lota = try MethodRegistry.make("lota-qaf", options: MethodOptions(bits: 3, groupSize: 4, rank: 8, extra: ["base": 0]))
        let lotaGroups = lota.parameterGroups(try lota.prepare(MethodContext(weights: run.loaded.weights, seed: 1))).withAdamWWeightDecay(0.1)
        XCTAssert(lotaGroups.allSatisfy { $0.optimizer is TernarySignSGD }, "\(lotaGroups.map { type(of: $0.optimizer) })")
        let lora = try MethodRegistry.make("lora", options: MethodOptions(rank: 4))
        let loraGroups = lora.parameterGroups(try lora.prepare(MethodContext(weights: run.loaded.weights, seed: 1))).withAdamWWeightDecay(0.1)
        XCTAssertEqual(loraGroups.compactMap { ($0.optimizer as? AdamW)?.weightDecay }, [0.1])
    }

    /// After real t-SignSGD steps the merged integer model reproduces the training form bit for bit,
    /// its codes stay on the grid and move at most one step, and the held-out loss drops.
    func testStoriesMergeIsBitExactAndTrainingLowersLoss() throws {
        let run = try MethodRun.stories()
        let steps = 30
        let method = try MethodRegistry.make("lota-qaf", options: MethodOptions(
            bits: 3, groupSize: 4, rank: 8, extra: ["base": 0, "steps": Double(steps)]))
        let trainer = try run.trainer(method, steps: steps, batch: 8, clip: nil)
        var fired: [Double] = []
        let before = try trainer.evaluate(run.heldOut).meanNLL
        for _ in 0..<steps {
            _ = try trainer.trainStep()
            fired.append(LoTAQAF.statistics(trainer.model).adjustedFraction)
        }
        let after = try trainer.evaluate(run.heldOut).meanNLL
        let stats = LoTAQAF.statistics(trainer.model)
        print(String(format: "stories260K LoTA-QAF w3 g4 r8 ω6: held-out loss %.4f → %.4f; codes changed %.4f%% (per step: %@); "
                        + "mean |μ| %.4f; max |ΔW|/ω %.2f; adapter entries up %d, down %d of %d",
                     before, after, 100 * stats.adjustedFraction, fired.map { String(format: "%.3f%%", 100 * $0) }.joined(separator: " "),
                     stats.meanAbsOffset, stats.maxAbsDelta, stats.increased, stats.decreased, stats.adapterEntries))
        XCTAssertLessThan(after, before - 0.01)
        XCTAssertGreaterThan(stats.raised + stats.lowered, 0, "the ternary adjustment never fired")

        let exported = try method.export(trainer.model)
        XCTAssertEqual(exported.mergeDifference, 0)
        XCTAssertEqual(exported.precision, .integer(bits: 3))
        XCTAssertEqual(exported.metrics["codesChangedFraction"], stats.adjustedFraction)
        try assertBitIdenticalLogits(trainer.model.inferenceModel(run.loaded.weights), exported.model, run.heldOut[0].tokens)
        var moved = 0
        for (l, block) in exported.model.blocks.enumerated() {
            for p in Projection.allCases {
                let adapter = try XCTUnwrap(trainer.model.layer(LinearSite(layer: l, projection: p)) as? TernaryAdapter)
                let deployed = try XCTUnwrap(layer(block, p) as? GridLinear).grid
                XCTAssertEqual(deployed.scales, adapter.base.scales)
                for (q, q2) in zip(adapter.base.codes, deployed.codes) {
                    XCTAssertLessThanOrEqual(abs(Int(q2) - Int(q)), 1)
                    XCTAssertLessThanOrEqual(q2, 7)
                    if q != q2 { moved += 1 }
                }
            }
        }
        XCTAssertEqual(moved, stats.raised + stats.lowered)
    }

    func testBadOptionsAreNamed() throws {
        assertInvalidOption("extra.omega") { _ = try LoTAQAF(options: MethodOptions(rank: 8, extra: ["omega": 8])) }
        assertInvalidOption("extra.paperOffset") { _ = try LoTAQAF(options: MethodOptions(extra: ["paperOffset": 2])) }
        assertInvalidOption("extra.steps") { _ = try LoTAQAF(options: MethodOptions(extra: ["steps": 0])) }
        assertInvalidOption("extra.base") { _ = try LoTAQAF(options: MethodOptions(extra: ["base": 2])) }
        assertInvalidOption("extra.omgea") { _ = try LoTAQAF(options: MethodOptions(extra: ["omgea": 3])) }
        assertInvalidOption("dropout") { _ = try LoTAQAF(options: MethodOptions(dropout: 0.1)) }
        assertInvalidOption("rank") { _ = try LoTAQAF(options: MethodOptions(rank: 0)) }
        let weights = try ModelLoader.load(Fixtures.stories260K).weights
        assertInvalidOption("groupSize") {
            _ = try LoTAQAF(options: MethodOptions(groupSize: 64, extra: ["base": 0])).prepare(MethodContext(weights: weights))
        }
        assertInvalidOption("calibration") {
            _ = try LoTAQAF(options: MethodOptions(groupSize: 4)).prepare(MethodContext(weights: weights))
        }
        assertInvalidOption("export") { _ = try LoTAQAF(options: MethodOptions()).export(TrainableLlama(weights)) }
    }

    /// SmolLM2-135M at w3 g64 (RTN base), a short Alpaca run: LoTA-QAF's merged integer model has a
    /// lower WikiText-2 perplexity than its quantized base (first 20 windows of 512 tokens).
    func testSmolLM2RecoversWikiTextPerplexity() throws {
        let started = Date()
        let run = try MethodRun.smolLM2Alpaca(count: 120)
        let steps = 12
        let method = try MethodRegistry.make("lota-qaf", options: MethodOptions(
            bits: 3, groupSize: 64, rank: 16, extra: ["base": 0, "steps": Double(steps)]))
        let trainer = try run.trainer(method, steps: steps, batch: 4, clip: nil)
        let tokens = try wikiTextTokens(run.loaded.tokenizer, count: 20 * 512)
        let base = try trainer.model.inferenceModel(run.loaded.weights).windowedNLL(tokens, window: 512).perplexity
        let prepared = Date()
        try trainer.run()
        let trained = Date()
        let exported = try method.export(trainer.model)
        let after = try exported.model.windowedNLL(tokens, window: 512).perplexity
        let stats = LoTAQAF.statistics(trainer.model)
        print(String(format: "SmolLM2-135M LoTA-QAF w3 g64 RTN base, r16 ω12, %d steps × 4 Alpaca: WikiText-2 PPL (20×512) "
                        + "%.2f → %.2f; codes changed %.4f%%, mean |μ| %.4f, max |ΔW|/ω %.2f; merge diff %g; "
                        + "prepare+base eval %.0f s, train %.0f s, export+eval %.0f s",
                     steps, base, after, 100 * stats.adjustedFraction, stats.meanAbsOffset, stats.maxAbsDelta,
                     exported.mergeDifference ?? -1, prepared.timeIntervalSince(started), trained.timeIntervalSince(prepared),
                     Date().timeIntervalSince(trained)))
        XCTAssertEqual(exported.mergeDifference, 0)
        XCTAssertLessThan(after, base)
    }

    private func layer(_ block: Llama.Block, _ p: Projection) -> any LinearOperator {
        switch p {
        case .q: return block.q
        case .k: return block.k
        case .v: return block.v
        case .o: return block.o
        case .gate: return block.gate
        case .up: return block.up
        case .down: return block.down
        }
    }
}

/// The first `count` tokens of the WikiText-2 test rows joined with "\n\n". Only a prefix of the
/// text is tokenised: enough rows that the cut lies far beyond the last token used.
func wikiTextTokens(_ tokenizer: any Tokenizer, count: Int) throws -> [Int] {
    struct Row: Decodable { let text: String }
    let lines = try String(contentsOf: Fixtures.url("Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl"), encoding: .utf8)
        .split(separator: "\n")
    var rows: [String] = [], chars = 0
    for line in lines where chars < 8 * count {
        let text = try JSONDecoder().decode(Row.self, from: Data(line.utf8)).text
        rows.append(text)
        chars += text.count + 2
    }
    let tokens = tokenizer.encode(rows.joined(separator: "\n\n"), addBOS: tokenizer.addsBOSByDefault)
    XCTAssertGreaterThan(tokens.count, count + 1000)
    return Array(tokens.prefix(count))
}
