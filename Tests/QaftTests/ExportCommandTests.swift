import Experiments
import Export
import Foundation
import Models
import Pipeline
@testable import qaft
import TestSupport
import XCTest

/// `qaft export` as a user runs it, on SmolLM2: a table row from the cache (GGUF and GPTQ), a
/// `qaft quantize` output, and the refusals (an unknown row, a truncated file, a grid GPTQ cannot
/// hold), each one precise error with nothing left where the output would have gone.
final class ExportCommandTests: XCTestCase {
    /// table2's "RTN w4" row (RTN, group 64) on SmolLM2, computed into `cache`: what
    /// `qaft reproduce table2` would store for it, without the table's other rows.
    private func computeRTNRow(model: String, cache: URL) throws {
        let plan = try Planner(root: Fixtures.root).plan(Catalog.manifests("table2", profile: .default, model: .file(model, tokenizer: nil)))
        let stage = try XCTUnwrap(plan.stages.first { $0.label == "table2/RTN w4/quantize" })
        _ = try Runner(cache: try Cache(root: cache)).run(plan.closure(of: stage.key))
    }

    private func qaft(_ arguments: [String]) throws {
        var command = try Qaft.parseAsRoot(arguments)
        try command.run()
    }

    /// The entries of `dir` other than `kept`: a refused or finished export leaves no temporary.
    private func leftovers(_ dir: URL, kept: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !kept.contains($0) }.sorted()
    }

    func testExportsRowsAndQuantizeOutputsAndRefusesPrecisely() throws {
        let model = try Fixtures.smolLM2().path
        let dir = try Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache"), out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try computeRTNRow(model: model, cache: cache)
        let row = ["table2", "RTN w4", "--model", model, "--cache", cache.path]

        // A row to llama.cpp: Q4_0/Q4_1 blocks under llama.cpp's names, no private keys.
        let gguf = out.appendingPathComponent("rtn.gguf")
        try qaft(["export"] + row + ["--format", "gguf", "-o", gguf.path])
        let file = try GGUFFile(contentsOf: gguf)
        XCTAssertNil(file.metadata.keys.first { $0.hasPrefix("qaft.deployed") || $0.hasPrefix("qaft.quantization") })
        XCTAssertTrue([GGMLType.q4_0, .q4_1].contains(try file.tensor("blk.0.attn_q.weight").type))
        // The tied embedding in Q8_0 as SmolLM2's own file has it, the same values, no output.weight.
        XCTAssertEqual(try file.tensor("token_embd.weight").type, .q8_0)
        XCTAssertTrue(try file.floats("token_embd.weight") == GGUFFile(contentsOf: URL(fileURLWithPath: model)).floats("token_embd.weight"))
        XCTAssertFalse(file.tensors.contains { $0.name == "output.weight" })

        // The same row to GPTQ: a folder transformers loads, in Hugging Face's names and order.
        let gptq = out.appendingPathComponent("rtn-gptq")
        try qaft(["export"] + row + ["--format", "gptq", "-o", gptq.path])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: gptq.path).sorted(),
                       ["config.json", "model.safetensors", "quantize_config.json", "tokenizer.json", "tokenizer_config.json"])
        let quantization = try JSONSerialization.jsonObject(with: Data(contentsOf: gptq.appendingPathComponent("quantize_config.json"))) as? [String: Any]
        XCTAssertEqual(quantization?["bits"] as? Int, 4)
        XCTAssertEqual(quantization?["group_size"] as? Int, 64)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: gptq.appendingPathComponent("config.json"))) as? [String: Any]
        XCTAssertEqual(config?["num_key_value_heads"] as? Int, 3)
        XCTAssertEqual(config?["tie_word_embeddings"] as? Bool, true)
        let st = try SafetensorsFile(contentsOf: gptq.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try st.tensor("model.layers.29.self_attn.k_proj.qweight").shape, [576 * 4 / 32, 192])

        // A `qaft quantize` output to GPTQ.
        let quantized = out.appendingPathComponent("q.gguf")
        try qaft(["quantize", "--model", model, "--method", "rtn", "--bits", "4", "--group", "64", "--quiet", "--cache", cache.path,
                  "-o", quantized.path])
        let fromFile = out.appendingPathComponent("q-gptq")
        try qaft(["export", quantized.path, "--format", "gptq", "-o", fromFile.path])
        XCTAssertEqual(try Data(contentsOf: fromFile.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: gptq.appendingPathComponent("model.safetensors")), "the same RTN grids exported twice differ")
        let kept: Set<String> = ["rtn.gguf", "rtn-gptq", "q.gguf", "q-gptq"]
        XCTAssertEqual(try leftovers(out, kept: kept), [])

        func assertRefused(_ arguments: [String], _ parts: [String], line: UInt = #line) {
            XCTAssertThrowsError(try qaft(arguments), line: line) { error in
                let text = "\(error)"
                for part in parts { XCTAssertTrue(text.contains(part), "\(text) lacks \(part)", line: line) }
            }
            XCTAssertEqual(try leftovers(out, kept: kept), [], "a refused export left something", line: line)
        }
        assertRefused(["export", "table2", "RTN w9", "--model", model, "--cache", cache.path, "--format", "gptq", "-o", out.appendingPathComponent("x").path],
                      ["unknown row RTN w9 of table2", "RTN w4"])

        let truncated = dir.appendingPathComponent("truncated.gguf")
        let bytes = try Data(contentsOf: quantized)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        assertRefused(["export", truncated.path, "--format", "gptq", "-o", out.appendingPathComponent("y").path], [truncated.path])

        // A grid GPTQ cannot hold: one fractional zero point in a deployed-model file.
        var (deployed, tokenizer) = try DeployedSource.read(quantized)
        guard case .grid(var grid) = deployed.layers[3][.up]!.base else { return XCTFail("rtn stored no grid") }
        grid.zeros[5] += 0.5
        deployed.layers[3][.up] = DeployedLayer(base: .grid(grid))
        let fractional = dir.appendingPathComponent("fractional.gguf")
        try DeployedModelFile.write(deployed, to: fractional, metadata: tokenizer)
        assertRefused(["export", fractional.path, "--format", "gptq", "-o", out.appendingPathComponent("z").path],
                      ["model.layers.3.mlp.up_proj: cannot be exported to GPTQ exactly: row 0 group 5 has zero point \(grid.zeros[5])"])

        assertRefused(["export", quantized.path, "--format", "awq", "-o", out.appendingPathComponent("w").path], ["export format awq is not built"])
        // An existing output is never replaced.
        assertRefused(["export", quantized.path, "--format", "gptq", "-o", gptq.path], ["\(gptq.path) already exists"])
    }
}
