import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

/// GPTQ+LoRA and QEFT on stories260K at 3 bits. Its widths (64, 172) admit no packable group
/// size, so both quantize each row as one group (`extra.perChannel`); each must lower the held-out
/// loss from its own quantized starting point, like the other tuning methods' stories runs.
final class PerChannelMethodsTests: XCTestCase {
    func testStoriesGPTQLoRAAndQEFTLowerHeldOutLossAtThreeBits() throws {
        let run = try MethodRun.stories()
        // Calibration windows from training stories only (the held-out ones are scored).
        let calibration = run.train.prefix(16).map { Array($0.tokens.prefix(128)) }
        let cases: [(String, MethodOptions)] = [
            ("gptq-lora", MethodOptions(bits: 3, rank: 8, alpha: 16, extra: ["perChannel": 1])),
            ("qeft", MethodOptions(bits: 3, weakColumns: 4, extra: ["perChannel": 1, "minMaxGrid": 1])),
        ]
        for (name, options) in cases {
            let method = try MethodRegistry.make(name, options: options)
            let trainer = try run.trainer(method, steps: 30, batch: 8, learningRate: 1e-2, calibration: calibration)
            let (before, after) = try run.heldOutLoss(trainer)
            print(String(format: "stories260K %@ w3 per-channel: held-out loss %.4f → %.4f", name, before, after))
            XCTAssertLessThan(after, before - 0.01, name)
            let exported = try method.export(trainer.model)
            XCTAssertEqual(exported.precision, .mixed(bits: 3), name)
            if name == "gptq-lora" {
                // The deployed base is the integer grid (packed for decoding), not a dense copy.
                let adapter = try XCTUnwrap(exported.model.blocks[0].down as? LoRALinear)
                XCTAssert(adapter.base is GridLinear)
            }
        }
        assertInvalidOption("groupSize") {
            _ = try MethodRegistry.make("gptq-lora", options: MethodOptions(bits: 3, groupSize: 4))
                .prepare(MethodContext(weights: run.loaded.weights, calibration: calibration))
        }
    }
}
