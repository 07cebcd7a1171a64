import Methods
import Models
import Tensor
import TestSupport
import Training
import XCTest

/// The registry and the option checks every method shares.
final class MethodRegistryTests: XCTestCase {
    func testUnknownMethodAndBadOptionsAreNamed() throws {
        XCTAssertThrowsError(try MethodRegistry.make("nope", options: MethodOptions())) { e in
            guard case MethodError.unknownMethod(let name, let known) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "nope")
            XCTAssertTrue(known.contains("lora"))
        }
        XCTAssertThrowsError(try MethodRegistry.make("lora", options: MethodOptions(rank: 0))) { e in
            XCTAssertEqual((e as? MethodError).map { "\($0)" }, "invalid option rank = 0: must be positive")
        }
        let config = try ModelLoader.load(Fixtures.stories260K).config
        XCTAssertThrowsError(try MethodOptions(bits: 9).validateQuantization(for: config)) { e in
            guard case MethodError.invalidOption(let o, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(o, "bits")
        }
        XCTAssertThrowsError(try MethodOptions(groupSize: 48).validateQuantization(for: config)) { e in
            guard case MethodError.invalidOption(let o, let v, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(o, "groupSize")
            XCTAssertEqual(v, "48")
        }
        XCTAssertEqual(Set(MethodRegistry.names).count, MethodRegistry.names.count, "duplicate registry names")
    }

    /// LoRA's merged export computes the same function as its unmerged training form.
    func testLoRAMergeMatchesUnmerged() throws {
        let weights = try ModelLoader.load(Fixtures.stories260K).weights
        let method = try MethodRegistry.make("lora", options: MethodOptions(rank: 4, alpha: 8))
        let model = try method.prepare(MethodContext(weights: weights, seed: 1))
        var rng = SeededRandom(seed: 5)
        for p in model.trainableParameters { for i in 0..<p.count { p.value.pointer[i] = 0.02 * rng.nextGaussian() } }
        let exported = try method.export(model)
        XCTAssertLessThan(exported.mergeDifference!, 1e-4)
        XCTAssertGreaterThan(try logitDifference(Llama(weights), exported.model), 1e-3, "the adapter must change the model")
    }
}
