import Export
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// The decoding form of a deployed model (what the speed stages time): grid layers on the packed
/// kernels (alone, or as the base of an unmerged adapter), unpackable groups left as grids, NF4
/// dequantized per product, and the function of the model qaft scores.
final class DecodingFormTests: XCTestCase {
    func testDecodingFormPacksGridLayersAndKeepsTheFunction() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let w = loaded.weights.layers
        let model = Llama(loaded.weights)
        let quantizer = try UniformQuantizer(bits: 4)
        model.blocks[0].q = GridLinear(try quantizer.quantize(w[0].wq, groupSize: 16))
        // stories260K's FFN width 172 admits groups of 4, which the packed layout cannot hold.
        model.blocks[0].down = GridLinear(try quantizer.quantize(w[0].down, groupSize: 4))
        model.blocks[0].up = NF4Linear(w[0].up)
        var rng = SeededRandom(seed: 1)
        let lora = LoRALinear(base: GridLinear(try quantizer.quantize(w[1].wk, groupSize: 16)), config: LoRAConfig(rank: 2, alpha: 4),
                              name: "layers.1.k", random: &rng)
        // B starts at 0; give the side path something to add.
        for i in 0..<lora.b.count { lora.b.value.pointer[i] = Float(i % 7 - 3) * 0.02 }
        model.blocks[1].k = FrozenLinear(GridLinear(try quantizer.quantize(w[1].wv, groupSize: 16)))
        model.blocks[1].v = lora
        let probe = Array(loaded.tokenizer.encode("Once upon a time there was a little dog").prefix(16))
        let deployed = try DeployedModel(model)
        let scored = try deployed.llama().forward(TokenBatch(probe))

        let decoding = try deployed.decodingLlama()
        XCTAssert(decoding.blocks[0].q is QuantizedLinear)
        XCTAssert(decoding.blocks[0].down is GridLinear)
        XCTAssert(decoding.blocks[0].up is NF4Linear)
        XCTAssert(decoding.blocks[1].k is QuantizedLinear)
        let adapter = try XCTUnwrap(decoding.blocks[1].v as? UnmergedAdapter)
        XCTAssert(adapter.base is QuantizedLinear)
        XCTAssert(decoding.blocks[1].q is DenseLinear)
        let after = try decoding.forward(TokenBatch(probe))
        var diff: Float = 0, scale: Float = 0
        for i in 0..<scored.count { diff = max(diff, abs(scored.storage[i] - after.storage[i])); scale = max(scale, abs(scored.storage[i])) }
        XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "max |Δlogit| \(diff) of \(scale)")
        XCTAssertGreaterThan(try DecodeSpeed.tokensPerSecond(decoding, prompt: probe, steps: 4, repeats: 1), 0)
    }

    /// A batched decode step (`rows:`) runs each row on the single-row kernel, through an
    /// unmerged adapter's packed base too; the setting is restored afterwards and never applies
    /// to products of more rows.
    func testBatchedDecodeStepsRunRowByRow() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let model = Llama(loaded.weights)
        let layer = QuantizedLinear(try PackedWeights(try UniformQuantizer(bits: 4).quantize(loaded.weights.layers[0].wv, groupSize: 16)))
        let (k, n, rows) = (layer.inFeatures, layer.outFeatures, 3)
        let wave = { (count: Int, phase: Float) in (0..<count).map { sin(Float($0) * 0.37 + phase) * 0.5 } }
        let adapted = UnmergedAdapter(base: layer, a: Matrix(rows: 2, cols: k, storage: wave(2 * k, 1)),
                                      b: Matrix(rows: n, cols: 2, storage: wave(2 * n, 2)), scale: 0.5)
        model.blocks[0].v = adapted
        let x = wave(rows * k, 0)
        var perRow = [Float](repeating: 0, count: rows * n), gemm = perRow, y = perRow
        for r in 0..<rows {
            var one = [Float](repeating: 0, count: n)
            layer.weights.gemv(Array(x[r * k ..< (r + 1) * k]), &one, activations: .int8)
            perRow.replaceSubrange(r * n ..< (r + 1) * n, with: one)
        }
        layer.weights.gemm(x, ldx: k, n: rows, &gemm, ldy: n)
        XCTAssertNotEqual(perRow, gemm)
        model.withDecodeActivations(.int8, rows: rows) {
            XCTAssertEqual(adapted.decodeRows, rows)
            layer.apply(x, rows: rows, into: &y)
            XCTAssertEqual(y, perRow)
            var more = [Float](repeating: 0, count: (rows + 1) * n), reference = more
            let x4 = x + wave(k, 3)
            layer.apply(x4, rows: rows + 1, into: &more)
            layer.weights.gemm(x4, ldx: k, n: rows + 1, &reference, ldy: n)
            XCTAssertEqual(more, reference)
        }
        XCTAssertEqual(layer.decodeActivations, .float32)
        XCTAssertEqual([layer.decodeRows, adapted.decodeRows], [1, 1])
        layer.apply(x, rows: rows, into: &y)
        XCTAssertEqual(y, gemm)
    }
}
