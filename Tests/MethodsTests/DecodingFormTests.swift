import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// The deployed decoding form of an export: grid layers repacked for the packed kernels (alone, or
/// as the base of an unmerged LoRA), unpackable groups left alone, and the same function.
final class DecodingFormTests: XCTestCase {
    func testPackForDecodingRepacksGridLayersAndKeepsTheFunction() throws {
        let loaded = try ModelLoader.load(Fixtures.stories260K)
        let w = loaded.weights.layers
        let model = Llama(loaded.weights)
        let quantizer = try UniformQuantizer(bits: 4)
        model.blocks[0].q = GridLinear(try quantizer.quantize(w[0].wq, groupSize: 16))
        // stories260K's FFN width 172 admits groups of 4, which the packed layout cannot hold.
        model.blocks[0].down = GridLinear(try quantizer.quantize(w[0].down, groupSize: 4))
        var rng = SeededRandom(seed: 1)
        let lora = LoRALinear(base: GridLinear(try quantizer.quantize(w[1].wk, groupSize: 16)), config: LoRAConfig(rank: 2, alpha: 4),
                              name: "layers.1.k", random: &rng)
        // B starts at 0; give the side path something to add.
        for i in 0..<lora.b.count { lora.b.value.pointer[i] = Float(i % 7 - 3) * 0.02 }
        model.blocks[1].k = FrozenLinear(GridLinear(try quantizer.quantize(w[1].wv, groupSize: 16)))
        model.blocks[1].v = lora
        let probe = Array(loaded.tokenizer.encode("Once upon a time there was a little dog").prefix(16))
        let before = try model.forward(TokenBatch(probe))

        ExportedModel(model: model, precision: .mixed(bits: 4), bitsPerWeight: 4.5).packForDecoding()
        XCTAssert(model.blocks[0].q is QuantizedLinear)
        XCTAssert(model.blocks[0].down is GridLinear)
        XCTAssert(model.blocks[1].k is QuantizedLinear)
        XCTAssertFalse(model.blocks[1].v is LoRALinear)
        let after = try model.forward(TokenBatch(probe))
        var diff: Float = 0, scale: Float = 0
        for i in 0..<before.count { diff = max(diff, abs(before.storage[i] - after.storage[i])); scale = max(scale, abs(before.storage[i])) }
        XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "max |Δlogit| \(diff) of \(scale)")
        XCTAssertGreaterThan(try DecodeSpeed.tokensPerSecond(model, prompt: probe, steps: 4, repeats: 1), 0)
    }
}
