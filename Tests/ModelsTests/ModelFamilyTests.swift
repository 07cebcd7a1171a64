import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The papers' model families — Llama 3 (llama3 RoPE scaling, tied head), LLaMA-2 (biases on all
/// seven projections, linear scaling, untied), Mistral (head_dim ≠ dim / heads, sliding window) and
/// Qwen2 (q/k/v biases, a window in one layer) — against transformers' float32 logits and greedy
/// continuations, from both config.json layouts and from the GGUF llama.cpp's converter made of the
/// same folder (Tests/Fixtures/families/make_families.py).
final class ModelFamilyTests: XCTestCase {
    static let families = ["llama3", "llama2", "mistral", "qwen2"]

    struct Reference: Decodable {
        var sequence: [Int]
        var rows: Int
        var vocab: Int
        var prompt: [Int]
        var greedy: [Int]
    }

    static func directory(_ family: String) -> URL { Fixtures.url("Tests/Fixtures/families/\(family)") }

    static func reference(_ family: String) throws -> (Reference, [Float]) {
        let dir = directory(family)
        let r = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
        let data = try Data(contentsOf: dir.appendingPathComponent("reference_logits.f32"))
        let logits = data.withUnsafeBytes { b in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
        XCTAssertEqual(logits.count, r.rows * r.vocab)
        return (r, logits)
    }

    /// Largest |Δ| between the model's logits on the reference sequence and transformers', over the first `rows` positions.
    func maxDifference(_ model: Llama, _ r: Reference, _ want: [Float], rows: Int? = nil) throws -> Float {
        let got = try model.forward(TokenBatch(r.sequence))
        let n = (rows ?? r.rows) * r.vocab
        return zip(got.storage.prefix(n), want.prefix(n)).map { abs($0 - $1) }.max()!
    }

    func testHuggingFaceFoldersMatchTransformersInBothConfigLayouts() throws {
        for family in Self.families {
            let (r, want) = try Self.reference(family)
            for layout in ["config.json", "config.v4.json"] {
                let loaded = try ModelLoader.load(try Fixtures.familyFolder(family, layout: layout))
                let model = Llama(loaded.weights)
                XCTAssertLessThanOrEqual(try maxDifference(model, r, want), 1e-4, "\(family) \(layout)")
                let greedy = try Generator(model: model, decodeActivations: .float32).generate(prompt: r.prompt, maxNewTokens: r.greedy.count)
                XCTAssertEqual(greedy, r.greedy, "\(family) \(layout): greedy continuation through the KV cache")
            }
        }
    }

    func testWhatEachFamilyConfigSays() throws {
        let llama3 = try ModelLoader.config(of: try Fixtures.familyFolder("llama3"))
        XCTAssertEqual(llama3.ropeScaling, .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 16))
        XCTAssertTrue(llama3.tiedEmbeddings)
        let mistral = try ModelLoader.config(of: try Fixtures.familyFolder("mistral", layout: "config.v4.json"))
        XCTAssertEqual([mistral.headDim, mistral.queryDim, mistral.slidingWindow], [16, 64, 4])
        XCTAssertNil(mistral.slidingLayers)
        for layout in ["config.json", "config.v4.json"] {
            let qwen = try ModelLoader.config(of: try Fixtures.familyFolder("qwen2", layout: layout))
            XCTAssertEqual(qwen.slidingWindow, 4)
            XCTAssertEqual(qwen.slidingLayers, [1], layout)
            XCTAssertEqual(qwen.ropeStyle, .rotateHalf)
        }
        let llama2 = try ModelLoader.load(try Fixtures.familyFolder("llama2")).weights
        XCTAssertEqual(llama2.config.ropeScaling, .linear(factor: 2))
        XCTAssertEqual(Set(llama2.layers[0].biases.keys), Set(Projection.allCases))
        XCTAssertEqual(Set(try ModelLoader.load(try Fixtures.familyFolder("qwen2")).weights.layers[1].biases.keys), [.q, .k, .v])
    }

    /// llama.cpp's converter keeps biases, head_dim (`key_length`), Llama 3's scaling (as the
    /// `rope_freqs` tensor), linear scaling and Qwen2's rotate-half order, but writes no sliding
    /// window for Mistral or Qwen2: those GGUFs match transformers only where the window hides
    /// nothing, the first 4 positions.
    func testLlamaCppConvertedGGUFsGiveTheSameLogits() throws {
        for family in Self.families {
            let (r, want) = try Self.reference(family)
            let loaded = try ModelLoader.load(Self.directory(family).appendingPathComponent("model.gguf"))
            let windowed = family == "mistral" || family == "qwen2"
            XCTAssertNil(loaded.config.slidingWindow, family)
            XCTAssertLessThanOrEqual(try maxDifference(Llama(loaded.weights), r, want, rows: windowed ? 4 : nil), 1e-4, family)
        }
        let llama3 = try GGUFFile(contentsOf: Self.directory("llama3").appendingPathComponent("model.gguf")).llamaConfig()
        guard case .frequencyFactors(let f) = llama3.ropeScaling else { return XCTFail("\(llama3.ropeScaling)") }
        let rule = RoPEScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 16)
        for (a, b) in zip(f, rule.divisors(headDim: 8, theta: 500_000)) { XCTAssertEqual(Double(a), b, accuracy: 1e-5 * b) }
    }

    /// qaft's own float GGUF (the cache's artifact form) keeps everything a family adds: the model
    /// read back computes the same logits bit for bit.
    func testQaftGGUFRoundTripKeepsEveryFamilyFeature() throws {
        for family in Self.families {
            let weights = try ModelLoader.load(try Fixtures.familyFolder(family)).weights
            let url = try Fixtures.temporaryDirectory("roundtrip" + family).appendingPathComponent("model.gguf")
            try weights.ggufWriter().write(to: url)
            let back = try GGUFFile(contentsOf: url).llamaWeights()
            XCTAssertEqual(back.config, weights.config, family)
            let tokens = try Self.reference(family).0.sequence
            let a = try Llama(weights).forward(TokenBatch(tokens)), b = try Llama(back).forward(TokenBatch(tokens))
            XCTAssertEqual(a.storage.map(\.bitPattern), b.storage.map(\.bitPattern), family)
        }
    }
}
