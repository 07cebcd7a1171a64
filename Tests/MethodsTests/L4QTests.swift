import Foundation
@testable import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// L4Q: the hand-written memory-lean backward against a float64 autograd-style reference, the
/// bit-exact integer export, short real fine-tunes, and option errors.
final class L4QTests: XCTestCase {
    /// Builds an L4Q layer over `w0` with a nonzero B, steps shrunk below L4Q_init (so some merged
    /// weights clip) and nonzero offsets; W0 is nudged until no merged weight sits within 1e-3 of a
    /// rounding midpoint or clamp bound, so float32 and float64 take the same STE branches.
    func layer(_ w0: Matrix, bits: Int, groupSize gs: Int, rank: Int, seed: UInt64) -> (L4QLinear, Matrix) {
        var rng = SeededRandom(seed: seed)
        let q = LearnedStepQuantizer(bits: bits, groupSize: gs)
        var w0 = w0
        let bValues = gaussian(w0.rows * rank, 0.3 / Float(rank), &rng)
        var steps: [Float] = [], offsets: [Float] = []
        while true {
            var initRandom = SeededRandom(seed: seed + 1)
            let l = L4QLinear(base: DenseLinear(w0), rank: rank, scale: 2 / Float(rank), quantizer: q, name: "t",
                              scratch: WeightScratch(), random: &initRandom)
            if steps.isEmpty {
                steps = l.step.value.array(l.step.count).map { 0.75 * $0 }
                offsets = steps.map { 0.4 * $0 * rng.nextGaussian() }
            }
            l.b.assign(Matrix(rows: w0.rows, cols: rank, storage: bValues))
            l.step.assign(Matrix(rows: l.step.rows, cols: l.step.cols, storage: steps))
            l.offset.assign(Matrix(rows: l.offset.rows, cols: l.offset.cols, storage: offsets))
            let merged = mergedReference(l)
            var nudged = false
            for i in 0..<w0.count {
                let g = (i / w0.cols) * (w0.cols / gs) + (i % w0.cols) / gs
                if LearnedStepReference.margin(merged[i], s: Double(steps[g]), b: Double(offsets[g]), bits: bits) < 1e-3 {
                    w0.storage[i] += 0.01 * steps[g]
                    nudged = true
                }
            }
            if !nudged { return (l, w0) }
        }
    }

    func mergedReference(_ l: L4QLinear) -> [Double] {
        let ba = LearnedStepReference.matmul(l.b.doubles, l.a.doubles, m: l.outFeatures, n: l.inFeatures, k: l.rank)
        return zip(doubles(l.base), ba).map { $0 + Double(l.scale) * $1 }
    }

    /// Runs forward + backward of `l` on random x, dy and compares every gradient with the reference.
    func checkBackward(_ l: L4QLinear, rows: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: seed)
        let m = l.outFeatures, n = l.inFeatures, r = l.rank, gs = l.quantizer.groupSize, bits = l.quantizer.bits
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
        l.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
        l.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)

        let xd = x.map(Double.init), dyd = dy.map(Double.init), alpha = Double(l.scale)
        let ref = LearnedStepReference.quantize(mergedReference(l), s: l.step.doubles, b: l.offset.doubles,
                                                rows: m, cols: n, gs: gs, bits: bits)
        let g = LearnedStepReference.matmul(dyd, xd, m: m, n: n, k: rows, transA: true)
        let masked = zip(g, ref.mask).map(*)
        let checks: [(String, [Float], [Double])] = [
            ("y", y, LearnedStepReference.matmul(xd, ref.wq, m: rows, n: m, k: n, transB: true)),
            ("dx", dx, LearnedStepReference.matmul(dyd, ref.wq, m: rows, n: n, k: m)),
            ("ds", l.step.gradientDoubles, LearnedStepReference.groupSums(g, ref.dStep, rows: m, cols: n, gs: gs)),
            ("db", l.offset.gradientDoubles, LearnedStepReference.groupSums(g, ref.dOffset, rows: m, cols: n, gs: gs)),
            ("dA", l.a.gradientDoubles,
             LearnedStepReference.matmul(l.b.doubles, masked, m: r, n: n, k: m, transA: true).map { alpha * $0 }),
            ("dB", l.b.gradientDoubles,
             LearnedStepReference.matmul(masked, l.a.doubles, m: m, n: r, k: n, transB: true).map { alpha * $0 }),
        ]
        for (name, got, want) in checks {
            XCTAssertLessThanOrEqual(relativeError(got, want), 1e-4, "\(name) of a \(m)×\(n) layer", file: file, line: line)
        }
        let clipped = ref.mask.filter { $0 == 0 }.count
        XCTAssertGreaterThan(clipped, 0, "the check must cover clipped weights", file: file, line: line)
        XCTAssertLessThan(clipped, ref.mask.count / 2, "and mostly unclipped ones", file: file, line: line)
    }

    func testBackwardMatchesReferenceOnRandomLayers() {
        var rng = SeededRandom(seed: 11)
        for (m, n, gs, bits, r) in [(48, 64, 16, 4, 4), (40, 128, 64, 3, 8), (20, 44, 44, 3, 2), (33, 32, 32, 2, 1)] {
            let (l, _) = layer(Matrix(rows: m, cols: n, storage: gaussian(m * n, 0.05, &rng)), bits: bits, groupSize: gs, rank: r, seed: 5)
            checkBackward(l, rows: 10, seed: 7)
        }
    }

    func testBackwardMatchesReferenceOnSmolLM2Layer() throws {
        let weights = try ModelLoader.load(try Fixtures.smolLM2()).weights
        for w in [weights.layers[3].gate, weights.layers[17].wk] {
            let (l, _) = layer(w, bits: 3, groupSize: 64, rank: 4, seed: 9)
            checkBackward(l, rows: 8, seed: 13)
        }
    }

    /// In a bf16 scope L4Q rounds W_q block by block as it computes it, dy once for G and dx, and
    /// M ⊙ G once for the two rank-r products (`WeightScratch`'s bf16 buffers): its products and
    /// gradients must equal, bit for bit, the same steps composed of `BLAS.gemm`s that round
    /// their fp32 operands per product — the same roundings, only fused into the passes that make
    /// the operands.
    func testBF16ProductsRoundTheSameOperandsAsPerProductRounding() throws {
        if let reason = BF16.unavailableReason { throw XCTSkip("bf16 products unavailable: \(reason)") }
        var rng = SeededRandom(seed: 21)
        let (m, n, rows) = (192, 256, 64)  // two row blocks; the rank-8 products are just large enough for bf16
        let (l, scratch) = trainedLayer(out: m, in: n, rank: 8, &rng)
        let r = l.rank, gc = n / l.quantizer.groupSize
        let x = gaussian(rows * n, 1, &rng), dy = gaussian(rows * m, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m), dx = [Float](repeating: 0, count: rows * n)
        l.apply(x, rows: rows, into: &y)  // fp32: W_q stays in the layer-sized scratch
        let wq = scratch.weight.array(m * n)
        var wantY = y, wantDx = dx, g = [Float](repeating: 0, count: m * n)
        var wantDA = l.a.gradient.array(r * n), wantDB = l.b.gradient.array(m * r)
        var wantDStep = l.step.gradient.array(m * gc), wantDOffset = l.offset.gradient.array(m * gc)
        ComputePrecision.with(.bf16) {
            XCTAssertTrue(BF16.applies(m: rows, n: m, k: n) && BF16.applies(m: r, n: n, k: m), "the products must run in bf16")
            l.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
            l.backward(dy, input: x, rows: rows, into: &dx, accumulate: false)
            BLAS.gemm(transB: true, m: rows, n: m, k: n, a: x, lda: n, b: wq, ldb: n, c: &wantY, ldc: m)
            BLAS.gemm(m: rows, n: n, k: m, a: dy, lda: m, b: wq, ldb: n, c: &wantDx, ldc: n)
            BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: &g, ldc: n)
            var merged = [Float](repeating: 0, count: m * n)
            l.merge(into: &merged)
            g.withUnsafeMutableBufferPointer { g in
                l.quantizer.backward(weight: merged, rows: m, cols: n, step: l.step.value.pointer, offset: l.offset.value.pointer,
                                     gradient: g.baseAddress!, masked: g.baseAddress!, quantized: nil,
                                     dStep: &wantDStep, dOffset: &wantDOffset)
            }
            BLAS.gemm(transA: true, m: r, n: n, k: m, alpha: l.scale, a: l.b.value.pointer, lda: r, b: g, ldb: n,
                      beta: 1, c: &wantDA, ldc: n)
            BLAS.gemm(transB: true, m: m, n: r, k: n, alpha: l.scale, a: g, lda: n, b: l.a.value.pointer, ldb: n,
                      beta: 1, c: &wantDB, ldc: r)
        }
        XCTAssertEqual(y, wantY)
        XCTAssertEqual(dx, wantDx)
        XCTAssertEqual(l.a.gradient.array(r * n), wantDA)
        XCTAssertEqual(l.b.gradient.array(m * r), wantDB)
        XCTAssertEqual(l.step.gradient.array(m * gc), wantDStep)
        XCTAssertEqual(l.offset.gradient.array(m * gc), wantDOffset)
        var fp32 = [Float](repeating: 0, count: rows * m)
        BLAS.gemm(transB: true, m: rows, n: m, k: n, a: x, lda: n, b: wq, ldb: n, c: &fp32, ldc: m)
        XCTAssertNotEqual(y, fp32, "bf16 scope did not change the product")
    }

    /// The merge W0 + α·BA runs in fp32 in any scope, so a bf16 fine-tune's forward quantizes the
    /// very floats an fp32 forward and the export do: its W_q (kept only rounded, in
    /// `WeightScratch.bf16Weight`) is the exported integer model's, rounded. (At this shape a row
    /// block's rank-16 update is large enough that `BLAS.gemm` would take bf16.)
    func testBF16ForwardQuantizesTheSameMergeAsTheFP32Export() throws {
        if let reason = BF16.unavailableReason { throw XCTSkip("bf16 products unavailable: \(reason)") }
        var rng = SeededRandom(seed: 22)
        let (m, n, rows, rank) = (256, 256, 64, 16)
        let (l, scratch) = trainedLayer(out: m, in: n, rank: rank, &rng)
        let x = gaussian(rows * n, 1, &rng)
        var y = [Float](repeating: 0, count: rows * m)
        let blockRows = L4QLinear.blockWeights / n
        let trained = ComputePrecision.with(.bf16) {
            XCTAssertTrue(BF16.applies(m: blockRows, n: n, k: rank), "a row block's update must be large enough for bf16")
            l.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))
            return scratch.bf16Weight.array(m * n)
        }
        l.forward(x, rows: rows, into: &y, random: SeededRandom(seed: 0))  // fp32, as the export merges
        var exported = [UInt16](repeating: 0, count: m * n)
        BF16.round(scratch.weight.pointer, ld: n, rows: m, cols: n, into: &exported, ldOut: n)
        XCTAssertEqual(exported, trained)
    }

    /// A 4-bit, group-32 L4Q layer on a random base whose B is no longer zero (as after training),
    /// with its own scratch.
    private func trainedLayer(out m: Int, in n: Int, rank: Int, _ rng: inout SeededRandom) -> (L4QLinear, WeightScratch) {
        var initRandom = SeededRandom(seed: 3)
        let scratch = WeightScratch()
        let l = L4QLinear(base: DenseLinear(Matrix(rows: m, cols: n, storage: gaussian(m * n, 0.05, &rng))), rank: rank, scale: 0.5,
                          quantizer: LearnedStepQuantizer(bits: 4, groupSize: 32), name: "t", scratch: scratch, random: &initRandom)
        l.b.assign(Matrix(rows: m, cols: rank, storage: gaussian(m * rank, 0.1, &rng)))
        return (l, scratch)
    }

    /// L4Q_init and Asymm clip nothing (Table 4: zero initial clipping error) and put the group's
    /// extremes on grid bounds; Symm clips the positive extreme.
    func testInitializationsClipAsTable4Says() {
        var rng = SeededRandom(seed: 2)
        let (rows, cols, gs) = (16, 128, 32), groups = rows * cols / gs
        let w = gaussian(rows * cols, 0.1, &rng)
        func ratios(_ q: LearnedStepQuantizer) -> [[Float]] {
            var s = [Float](repeating: 0, count: groups), b = s
            q.initialize(w, rows: rows, cols: cols, step: &s, offset: &b)
            return (0..<groups).map { g in (0..<gs).map { (w[g * gs + $0] - b[g]) / s[g] } }
        }
        for bits in [2, 3, 4, 8] {
            for kind in [LearnedStepQuantizer.Initialization.l4q, .asymmetric] {
                let q = LearnedStepQuantizer(bits: bits, groupSize: gs, initialization: kind)
                // Extremes land on the bounds up to the float rounding of s and (w − b)/s: a few ulps
                // of the ratio, whose magnitude is up to 2^(bits−1).
                let tolerance = 8 * Float.ulpOfOne * Float(1 << bits)
                for (g, r) in ratios(q).enumerated() {
                    XCTAssertTrue(r.allSatisfy { $0 >= q.qn - tolerance && $0 <= q.qp + tolerance }, "\(kind) bits \(bits) group \(g) clips")
                    let onBound = abs(r.max()! - q.qp) < tolerance || abs(r.min()! - q.qn) < tolerance
                    XCTAssertTrue(onBound, "\(kind) bits \(bits) group \(g) wastes range")
                }
            }
            let symmetric = LearnedStepQuantizer(bits: bits, groupSize: gs, initialization: .symmetric)
            XCTAssertTrue(ratios(symmetric).joined().contains { $0 > symmetric.qp }, "Symm must clip some positive extreme")
        }
    }

    /// E_quant and E_clip (Table 4's columns) equal their float64 definitions, E_clip is zero
    /// (to float rounding) for L4Q_init and Asymm, positive for Symm and LSQ+init, and L4Q's export
    /// reports both at init and after training.
    func testQuantizationAndClippingErrors() throws {
        var rng = SeededRandom(seed: 5)
        let (rows, cols, gs, bits) = (24, 96, 32, 3), groups = rows * cols / gs
        let w = gaussian(rows * cols, 0.1, &rng)
        for kind in LearnedStepQuantizer.Initialization.allCases {
            let q = LearnedStepQuantizer(bits: bits, groupSize: gs, initialization: kind)
            var s = [Float](repeating: 0, count: groups), b = s
            q.initialize(w, rows: rows, cols: cols, step: &s, offset: &b)
            // A learned-looking state: steps and offsets moved off their initial values.
            s = s.enumerated().map { $1 * (0.8 + 0.02 * Float($0 % 7)) }
            b = b.enumerated().map { $1 + 0.001 * Float($0 % 5) }
            let got = q.errors(w, rows: rows, cols: cols, step: s, offset: b)
            let ref = LearnedStepReference.quantize(w.map(Double.init), s: s.map(Double.init), b: b.map(Double.init),
                                                    rows: rows, cols: cols, gs: gs, bits: bits)
            var quantization = 0.0, clipping = 0.0
            for i in w.indices {
                let g = (i / cols) * (cols / gs) + (i % cols) / gs
                let lo = Double(s[g]) * Double(q.qn) + Double(b[g]), hi = Double(s[g]) * Double(q.qp) + Double(b[g])
                quantization += pow(Double(w[i]) - ref.wq[i], 2)
                clipping += pow(Double(w[i]) - min(max(Double(w[i]), lo), hi), 2)
            }
            XCTAssertEqual(got.quantization, quantization, accuracy: 1e-5 * quantization, "\(kind)")
            XCTAssertEqual(got.clipping, clipping, accuracy: 1e-5 * quantization, "\(kind)")
            XCTAssertGreaterThan(got.clipping, 0, "\(kind): shrunk steps must clip")

            var s0 = [Float](repeating: 0, count: groups), b0 = s0
            q.initialize(w, rows: rows, cols: cols, step: &s0, offset: &b0)
            let initial = q.errors(w, rows: rows, cols: cols, step: s0, offset: b0)
            if kind == .l4q || kind == .asymmetric {
                XCTAssertLessThan(initial.clipping, 1e-9 * initial.quantization, "\(kind) clips nothing at init")
            } else {
                XCTAssertGreaterThan(initial.clipping, 1e-4 * initial.quantization, "\(kind) clips at init")
            }
        }

        let run = try MethodRun.stories()
        let method = try L4Q(options: MethodOptions(bits: 3, rank: 4, alpha: 8, extra: ["perChannel": 1]))
        let trainer = try run.trainer(method, steps: 2, batch: 4, learningRate: 5e-3)
        try trainer.run()
        let m = try method.export(trainer.model).metrics
        XCTAssertEqual(m["initClippingError"] ?? -1, 0, accuracy: 1e-9)
        for key in ["initQuantizationError", "postQuantizationError", "postClippingError"] {
            XCTAssertNotNil(m[key], key)
        }
        XCTAssertGreaterThan(m["initQuantizationError"] ?? 0, 0)
    }

    /// A short 3-bit run on stories260K lowers held-out loss, and the exported integer model (packed
    /// codes, no adapter) gives the training forward's logits bit for bit.
    func testStoriesL4QLowersLossAndExportsBitIdenticalIntegers() throws {
        let run = try MethodRun.stories()
        let method = try L4Q(options: MethodOptions(bits: 3, rank: 4, alpha: 8, extra: ["perChannel": 1]))
        let trainer = try run.trainer(method, steps: 12, batch: 8, learningRate: 5e-3)
        let (before, after) = try run.heldOutLoss(trainer)
        print(String(format: "stories260K L4Q w3 per-channel r4: held-out loss %.4f → %.4f", before, after))
        XCTAssertLessThan(after, before - 0.02)

        let exported = try method.export(trainer.model)
        XCTAssertEqual(exported.precision, .integer(bits: 3))
        XCTAssertEqual(exported.mergeDifference, 0)
        XCTAssertTrue(exported.model.blocks.allSatisfy { $0.q is QuantizedLinear && $0.down is QuantizedLinear })
        let adapters = trainer.model.trainableParameters.filter { $0.name.hasSuffix("lora_B") }
        XCTAssertTrue(adapters.contains { p in (0..<p.count).contains { p.value.pointer[$0] != 0 } }, "B must have trained")
        try assertBitIdenticalLogits(trainer.model.inferenceModel(run.loaded.weights), exported.model, run.heldOut[0].tokens)
        // 3-bit codes plus 32 bits of (s, z) per row of 64 or 172 inputs.
        XCTAssertGreaterThan(exported.bitsPerWeight, 3)
        XCTAssertLessThan(exported.bitsPerWeight, 3.6)
    }

    /// SmolLM2-135M at w3 g64: a short L4Q run on Alpaca (20 steps of 4 examples ≤ 256 tokens, from
    /// L4Q_init) lowers held-out loss and beats RTN w3 g64 on WikiText-2 perplexity (first 20
    /// windows of 512 tokens). L4Q_init alone starts well above RTN (8 windows: 180 vs 98).
    func testSmolLM2L4QRecoversWikiTextPerplexityOverRTN() throws {
        let run = try MethodRun.smolLM2Alpaca(count: 300)
        let method = try L4Q(options: MethodOptions(bits: 3, groupSize: 64, rank: 4, alpha: 8))
        let trainer = try run.trainer(method, steps: 20, batch: 4, learningRate: 3e-3)
        let started = Date()
        let (before, after) = try run.heldOutLoss(trainer)
        let trainSeconds = Date().timeIntervalSince(started)
        let exported = try method.export(trainer.model)

        let (tokens, prefix) = try Self.wikiText(run.loaded.tokenizer, windows: 20, window: 512)
        let rtnQuantizer = try UniformQuantizer(bits: 3, grid: .asymmetric)
        let rtn = Llama(try run.loaded.weights.mapLinears { _, w in try rtnQuantizer.fakeQuantize(w, groupSize: 64) })
        let evalStart = Date()
        let pplRTN = try rtn.windowedNLL(tokens, window: 512, prefix: prefix).perplexity
        let pplL4Q = try exported.model.windowedNLL(tokens, window: 512, prefix: prefix).perplexity
        print(String(format: "SmolLM2 L4Q w3 g64 r4, 20 steps × 4 Alpaca: held-out loss %.4f → %.4f (%.0f s incl. 2 evaluations); "
                     + "WikiText-2 ppl (20×512): RTN w3 g64 %.2f, L4Q w3 g64 %.2f (%.0f s); %.3f bits/weight",
                     before, after, trainSeconds, pplRTN, pplL4Q, Date().timeIntervalSince(evalStart), exported.bitsPerWeight))
        XCTAssertLessThan(after, before - 0.3)
        XCTAssertLessThan(pplL4Q, pplRTN)
    }

    /// The first `windows` windows of WikiText-2 test (rows joined with "\n\n", as GPTQ joins them),
    /// and the BOS prefix each window starts with when the tokenizer adds one.
    static func wikiText(_ tokenizer: any Tokenizer, windows: Int, window: Int) throws -> (tokens: [Int], prefix: [Int]) {
        struct Row: Decodable { let text: String }
        let file = Fixtures.url("Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl")
        var text = ""
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") where text.count < 150_000 {
            let row = try JSONDecoder().decode(Row.self, from: Data(line.utf8))
            text += (text.isEmpty ? "" : "\n\n") + row.text
        }
        let prefix = tokenizer.addsBOSByDefault ? [tokenizer.bosToken].compactMap { $0 } : []
        let needed = windows * (window - prefix.count), tokens = tokenizer.encode(text)
        XCTAssertGreaterThanOrEqual(tokens.count, needed)
        return (Array(tokens.prefix(needed)), prefix)
    }

    func testBadOptionsAreNamed() throws {
        let config = try ModelLoader.load(Fixtures.stories260K)
        let context = MethodContext(weights: config.weights, seed: 1)
        for name in ["l4q", "qat-lora", "peqa", "qat"] {
            for bits in [1, 9] { assertInvalidOption("bits") { _ = try MethodRegistry.make(name, options: MethodOptions(bits: bits)) } }
            assertInvalidOption("groupSize") { _ = try MethodRegistry.make(name, options: MethodOptions(groupSize: 24)) }
            assertInvalidOption("groupSize") { _ = try MethodRegistry.make(name, options: MethodOptions(groupSize: 48)).prepare(context) }
            assertInvalidOption("extra.perchannel") {
                _ = try MethodRegistry.make(name, options: MethodOptions(extra: ["perchannel": 1]))
            }
            assertInvalidOption("extra.perChannel") { _ = try MethodRegistry.make(name, options: MethodOptions(extra: ["perChannel": 2])) }
        }
        for name in ["l4q", "qat-lora"] {
            assertInvalidOption("rank") { _ = try MethodRegistry.make(name, options: MethodOptions(rank: 0)) }
        }
        assertInvalidOption("dropout") { _ = try MethodRegistry.make("l4q", options: MethodOptions(dropout: 0.1)) }
    }
}
