import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The papers' model families — Llama 3 (llama3 RoPE scaling, tied head, Llama 3's tokenizer),
/// LLaMA-2 (biases on all seven projections, linear scaling, untied, SentencePiece), Mistral
/// (head_dim ≠ dim / heads, sliding window 8) and Qwen2 (q/k/v biases; `.sliding`: a window in
/// layer 1 only) — against transformers' float32 logits and greedy continuations, from both
/// config.json layouts and from the GGUF llama.cpp's converter made of the same folder
/// (Tests/Fixtures/families/make_families.py; its README describes every file).
final class ModelFamilyTests: XCTestCase {
    /// (family, config stem): the qwen2 weights are checked with and without their window.
    static let cases = [("llama3", ""), ("llama2", ""), ("mistral", ""), ("qwen2", ""), ("qwen2", ".sliding")]

    struct Reference: Decodable {
        struct Position: Decodable {
            var argmax: Int
            var logsumexp: Double
            var logits: [[Double]]
        }
        struct Sequence: Decodable {
            var text: String
            var ids: [Int]
            var positions: [Position]
        }
        struct Greedy: Decodable {
            var text: String
            var prompt: [Int]
            var generated: [Int]
        }
        var sequences: [Sequence]
        var greedy: [Greedy]
    }

    static func reference(_ family: String, _ variant: String) throws -> Reference {
        try Fixtures.json("Tests/Fixtures/families/\(family)/reference\(variant).json")
    }

    /// Largest |Δ| against transformers over the stored logits and log-sum-exps of the first
    /// `positions` positions of every sequence, after checking each argmax.
    func maxDifference(_ model: Llama, _ r: Reference, positions: Int = .max, _ what: String) throws -> Double {
        var worst = 0.0
        for s in r.sequences {
            let logits = try model.forward(TokenBatch(s.ids))
            let vocab = logits.cols
            for (p, want) in s.positions.prefix(positions).enumerated() {
                let row = Array(logits.storage[p * vocab ..< (p + 1) * vocab])
                XCTAssertEqual(row.indices.max { row[$0] < row[$1] }, want.argmax, "\(what): argmax at \(p) of \(s.text.debugDescription)")
                let top = Double(row.max()!)
                let lse = top + log(row.reduce(0.0) { $0 + exp(Double($1) - top) })
                worst = max(worst, abs(lse - want.logsumexp))
                for pair in want.logits { worst = max(worst, abs(Double(row[Int(pair[0])]) - pair[1])) }
            }
        }
        return worst
    }

    /// Hugging Face folders in both config layouts: the tokenizer gives transformers' ids (BOS as
    /// tokenizer.json's post-processor adds it), the logits match to 1e-4, and greedy decoding
    /// through the KV cache (windowed layers included) continues exactly as transformers does.
    func testHuggingFaceFoldersMatchTransformersInBothConfigLayouts() throws {
        for (family, variant) in Self.cases {
            let r = try Self.reference(family, variant)
            for layout in ["config\(variant).json", "config\(variant).v4.json"] {
                let what = "\(family) \(layout)"
                let loaded = try ModelLoader.load(try Fixtures.familyFolder(family, layout: layout))
                let tokenizer = loaded.tokenizer
                for s in r.sequences { XCTAssertEqual(tokenizer.encode(s.text, addBOS: tokenizer.addsBOSByDefault), s.ids, what) }
                let model = Llama(loaded.weights)
                XCTAssertLessThanOrEqual(try maxDifference(model, r, what), 1e-4, what)
                for g in r.greedy {
                    XCTAssertEqual(tokenizer.encode(g.text, addBOS: true), g.prompt, what)
                    let out = try Generator(model: model, decodeActivations: .float32).generate(prompt: g.prompt, maxNewTokens: g.generated.count)
                    XCTAssertEqual(out, g.generated, "\(what): greedy continuation of \(g.text.debugDescription)")
                }
            }
        }
    }

    func testWhatEachFamilyConfigSays() throws {
        let llama3 = try ModelLoader.config(of: try Fixtures.familyFolder("llama3"))
        XCTAssertEqual(llama3.ropeScaling, .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 256))
        XCTAssertTrue(llama3.tiedEmbeddings)
        let mistral = try ModelLoader.config(of: try Fixtures.familyFolder("mistral", layout: "config.v4.json"))
        XCTAssertEqual([mistral.headDim, mistral.queryDim, mistral.slidingWindow], [16, 64, 8])
        XCTAssertNil(mistral.slidingLayers)
        for layout in ["config.json", "config.v4.json"] {
            // Qwen2.5 ships a window size beside `use_sliding_window: false`: no layer slides.
            let qwen = try ModelLoader.config(of: try Fixtures.familyFolder("qwen2", layout: layout))
            XCTAssertNil(qwen.slidingWindow, layout)
            XCTAssertEqual(qwen.ropeStyle, .rotateHalf)
            let sliding = try ModelLoader.config(of: try Fixtures.familyFolder("qwen2", layout: layout.replacingOccurrences(of: "config", with: "config.sliding")))
            XCTAssertEqual(sliding.slidingWindow, 8, layout)
            XCTAssertEqual(sliding.slidingLayers, [1], layout)
        }
        let llama2 = try ModelLoader.load(try Fixtures.familyFolder("llama2")).weights
        XCTAssertEqual(llama2.config.ropeScaling, .linear(factor: 2))
        XCTAssertFalse(llama2.config.tiedEmbeddings)
        XCTAssertEqual(Set(llama2.layers[0].biases.keys), Set(Projection.allCases))
        XCTAssertEqual(Set(try ModelLoader.load(try Fixtures.familyFolder("qwen2")).weights.layers[1].biases.keys), [.q, .k, .v])
    }

    /// llama.cpp's converter keeps biases, head_dim (`key_length`), Llama 3's scaling (as the
    /// `rope_freqs` tensor), linear scaling, Qwen2's rotate-half order and the tokenizer (Llama 3's
    /// byte-level BPE with pre-tokenizer `llama-bpe`, SentencePiece for the others), but writes no
    /// sliding window: the Mistral GGUF matches transformers only where the window hides nothing.
    func testLlamaCppConvertedGGUFsGiveTheSameLogits() throws {
        for (family, variant) in Self.cases where variant.isEmpty {
            let r = try Self.reference(family, variant)
            let loaded = try ModelLoader.load(Fixtures.url("Tests/Fixtures/families/\(family)/model.gguf"))
            XCTAssertNil(loaded.config.slidingWindow, family)
            let tokenizer = loaded.tokenizer
            for s in r.sequences { XCTAssertEqual(tokenizer.encode(s.text, addBOS: tokenizer.addsBOSByDefault), s.ids, family) }
            let positions = family == "mistral" ? 8 : .max
            XCTAssertLessThanOrEqual(try maxDifference(Llama(loaded.weights), r, positions: positions, family), 1e-4, family)
        }
        let llama3 = try GGUFFile(contentsOf: Fixtures.url("Tests/Fixtures/families/llama3/model.gguf")).llamaConfig()
        guard case .frequencyFactors(let f) = llama3.ropeScaling else { return XCTFail("\(llama3.ropeScaling)") }
        let rule = RoPEScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 256)
        for (a, b) in zip(f, rule.divisors(headDim: 8, theta: 500_000)) { XCTAssertEqual(Double(a), b, accuracy: 1e-6 * b) }
    }

    /// qaft's own float GGUF (the cache's artifact form) keeps everything a family adds: the model
    /// read back computes the same logits bit for bit.
    func testQaftGGUFRoundTripKeepsEveryFamilyFeature() throws {
        for (family, variant) in Self.cases {
            let weights = try ModelLoader.load(try Fixtures.familyFolder(family, layout: "config\(variant).json")).weights
            let url = try Fixtures.temporaryDirectory("roundtrip" + family + variant).appendingPathComponent("model.gguf")
            try weights.ggufWriter().write(to: url)
            let back = try GGUFFile(contentsOf: url).llamaWeights()
            XCTAssertEqual(back.config, weights.config, family)
            let tokens = try Self.reference(family, variant).sequences[2].ids
            let a = try Llama(weights).forward(TokenBatch(tokens)), b = try Llama(back).forward(TokenBatch(tokens))
            XCTAssertEqual(a.storage.map(\.bitPattern), b.storage.map(\.bitPattern), family + variant)
        }
    }
}
