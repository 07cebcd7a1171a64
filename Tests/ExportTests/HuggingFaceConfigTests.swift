import Foundation
import XCTest
@testable import Export
import Models
import TestSupport

/// config.json written from a `LlamaConfig`, against the config.json transformers wrote for the
/// tiny family models (Tests/Fixtures/families): the architecture each bias pattern implies, the
/// shape, and RoPE (legacy `rope_theta` + `rope_scaling`, which transformers 5 folds into its
/// `rope_parameters`). What these architectures cannot state is refused by name.
final class HuggingFaceConfigTests: XCTestCase {
    func testFamiliesConfigsAreWrittenBack() throws {
        let shared = ["architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                      "num_key_value_heads", "rms_norm_eps", "tie_word_embeddings", "vocab_size", "max_position_embeddings",
                      "attention_bias", "mlp_bias", "use_sliding_window", "bos_token_id", "eos_token_id"]
        for family in ["llama2", "llama3", "qwen2"] {
            let folder = try Fixtures.familyFolder(family, family)
            let theirs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as? [String: Any])
            let written = try HuggingFaceConfig.json(try HuggingFaceLlama.weights(folder: folder), bos: theirs["bos_token_id"] as? Int,
                                                     eos: theirs["eos_token_id"] as? Int, extra: [:])
            let mine = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: written)) as? [String: Any])
            for key in shared where theirs[key] != nil {
                XCTAssertEqual(mine[key].map { "\($0)" }, theirs[key].map { "\($0)" }, "\(family) \(key)")
            }
            var rope = try XCTUnwrap(theirs["rope_parameters"] as? [String: Any])
            XCTAssertEqual(mine["rope_theta"] as? Double, rope.removeValue(forKey: "rope_theta") as? Double, family)
            if rope["rope_type"] as? String == "default" {
                XCTAssertTrue(mine["rope_scaling"] is NSNull, family)
            } else {
                let scaling = try XCTUnwrap(mine["rope_scaling"] as? [String: Any])
                XCTAssertEqual(NSDictionary(dictionary: scaling), NSDictionary(dictionary: rope), family)
            }
        }
    }

    func testWhatTheArchitecturesCannotStateIsRefused() throws {
        func refusal(_ weights: LlamaWeights) -> String {
            do {
                _ = try HuggingFaceConfig.json(weights, bos: nil, eos: nil, extra: [:])
                return "written"
            } catch {
                return "\(error)"
            }
        }
        let mistral = try HuggingFaceLlama.weights(folder: Fixtures.familyFolder("mistral"))
        XCTAssertEqual(refusal(mistral), "cannot export to GPTQ: a sliding window of 8 (Mistral/Qwen2 configs are not written)")
        let llama3 = try GGUFFile(contentsOf: Fixtures.url("Tests/Fixtures/families/llama3/model.gguf")).llamaWeights()
        XCTAssertEqual(refusal(llama3), "cannot export to GPTQ: q/k rows are in llama.cpp's interleaved order, not Hugging Face's")
        var frequencies = llama3
        frequencies.config.ropeStyle = .rotateHalf
        XCTAssertEqual(refusal(frequencies), "cannot export to GPTQ: RoPE scaling given only as llama.cpp's per-frequency factors "
                       + "(rope_freqs), not the rule transformers needs")
        var biases = try HuggingFaceLlama.weights(folder: Fixtures.familyFolder("qwen2"))
        biases.layers[1].biases[.o] = [Float](repeating: 0, count: biases.config.dim)
        XCTAssertEqual(refusal(biases), "cannot export to GPTQ: layers differ in which projections have biases")
        // q, k, v, o: Llama with attention_bias; q, k, v and gate: neither.
        for l in biases.layers.indices { biases.layers[l].biases[.o] = [Float](repeating: 0, count: biases.config.dim) }
        XCTAssertEqual(refusal(biases), "written")
        for l in biases.layers.indices {
            biases.layers[l].biases[.o] = nil
            biases.layers[l].biases[.gate] = [Float](repeating: 0, count: biases.config.hiddenDim)
        }
        XCTAssertEqual(refusal(biases), "cannot export to GPTQ: biases on [\"mlp.gate_proj\", \"self_attn.k_proj\", \"self_attn.q_proj\", "
                       + "\"self_attn.v_proj\"] fit neither LlamaForCausalLM nor Qwen2ForCausalLM")
    }
}
