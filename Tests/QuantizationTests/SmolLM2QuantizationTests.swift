import Models
import Quantization
import Tensor
import TestSupport
import XCTest

/// Quantization on the real SmolLM2-135M-Instruct (Q4_1) weights.
final class SmolLM2QuantizationTests: XCTestCase {
    static let model: Result<LoadedModel, Error> = Result { try ModelLoader.load(Fixtures.smolLM2()) }

    func linears(_ l: LlamaLayerWeights) -> [(String, Matrix)] {
        [("wq", l.wq), ("wk", l.wk), ("wv", l.wv), ("wo", l.wo), ("gate", l.gate), ("up", l.up), ("down", l.down)]
    }

    /// The tied embedding/head is stored as Q8_0, so `Q8Zero` recovers it bit for bit, and the
    /// packed 8-bit head (`Llama.quantizeHead`) gives the float head's logits up to summation order.
    func testHeadOnTheQ8_0GridIsLossless() throws {
        let weights = try Self.model.get().weights
        let q = try Q8Zero.quantize(weights.head)
        XCTAssertEqual(q.dequantized().storage, weights.head.storage)
        XCTAssertEqual(try PackedWeights(q).dequantized().storage, weights.head.storage)

        let fp = Llama(weights), packed = Llama(weights)
        try packed.quantizeHead()
        XCTAssertTrue(packed.head is QuantizedLinear)
        let tokens = [1, 504, 3575, 282, 4649, 314]
        let a = try fp.forward(TokenBatch(tokens)), b = try packed.forward(TokenBatch(tokens))
        var worst: Float = 0
        for (x, y) in zip(a.storage, b.storage) { worst = max(worst, abs(x - y)) }
        XCTAssertLessThan(worst, 1e-3, "max |Δ logit|")
    }

    /// The weights were Q4_1 (4-bit, group 32, w = d·q + m with fp16 d and m). Re-quantizing them
    /// with the affine min-max grid at 4 bits, group 32 recovers that grid: the fp16-rounded scale
    /// is d and the group minimum is m, so d·code + m reproduces every weight bit for bit. Our own
    /// (scale, zero) form in fp32 is exact up to float32 rounding (checked at 2⁻²¹ of the group's
    /// magnitude). The asymmetric grid with an integer zero point cannot be lossless: m/d is
    /// generally not an integer, so it shifts groups by up to half a step.
    func testRequantizingQ4_1IsLossless() throws {
        let weights = try Self.model.get().weights
        let quantizer = try UniformQuantizer(bits: 4, grid: .affine)
        var groups = 0, notBitExact = 0, outsideBound = 0
        for layer in weights.layers {
            for (_, w) in linears(layer) {
                let q = try quantizer.quantize(w, groupSize: 32)
                let deq = q.dequantized()
                for r in 0..<w.rows {
                    for g in 0..<(w.cols / 32) {
                        let p = q.parameters(row: r, group: g)
                        let d = Float(Float16(p.scale))
                        var m = Float.infinity, mag: Float = 0
                        for c in (g * 32)..<(g * 32 + 32) { m = min(m, w[r, c]); mag = max(mag, abs(w[r, c])) }
                        for c in (g * 32)..<(g * 32 + 32) {
                            if d * Float(q.codes[r * w.cols + c]) + m != w[r, c] { notBitExact += 1 }
                            if abs(deq[r, c] - w[r, c]) > mag * 0x1p-21 { outsideBound += 1 }
                        }
                        groups += 1
                    }
                }
            }
        }
        XCTAssertEqual(notBitExact, 0, "weights not reproduced bit for bit by fp16 (scale, min)")
        XCTAssertEqual(outsideBound, 0, "weights off by more than 2⁻²¹ of their group's magnitude")
        XCTAssertEqual(groups, 30 * 3_538_944 / 32)  // every linear weight of the 30 blocks
    }

    /// GPTQ on a real layer beats RTN on the layer-output error. Calibration proxy until the
    /// forward pass feeds real activations: embeddings of 512 random tokens through layer 0's
    /// attention RMSNorm, i.e. exactly q_proj's input at block 0 minus nothing.
    func testGPTQBeatsRTNOnRealLayer() throws {
        let weights = try Self.model.get().weights
        let c = weights.config, layer = weights.layers[0]
        var rng = SeededRandom(seed: 31)
        let tokens = 512
        var emb = [Float](repeating: 0, count: tokens * c.dim)
        for t in 0..<tokens {
            let id = Int(rng.next() % UInt64(c.vocabSize))
            for j in 0..<c.dim { emb[t * c.dim + j] = weights.tokenEmbedding[id, j] }
        }
        var x = [Float](repeating: 0, count: tokens * c.dim)
        RMSNorm.forward(emb, weight: layer.attnNorm, eps: c.normEps, rows: tokens, dim: c.dim, into: &x)
        let xm = Matrix(rows: tokens, cols: c.dim, storage: x)
        var acc = HessianAccumulator(dimension: c.dim)
        acc.add(rows: x, count: tokens)
        let h = acc.hessian()
        for (name, w) in [("wq", layer.wq), ("gate", layer.gate)] {
            for bits in [4, 3] {
                let q = try UniformQuantizer(bits: bits)
                let eR = TestData.outputError(w, try q.fakeQuantize(w, groupSize: 64), xm)
                let eG = TestData.outputError(
                    w, try GPTQ.quantize(weight: w, hessian: h, quantizer: q, options: .init(groupSize: 64)).dequantized(), xm)
                XCTAssertLessThan(eG, eR, "\(name) w\(bits) g64: GPTQ \(eG) vs RTN \(eR)")
                print("SmolLM2 layer 0 \(name) w\(bits) g64: output error GPTQ \(eG) RTN \(eR) ratio \(eG / eR)")
            }
        }
    }
}
