import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// Hugging Face folders converted from stories260K by Tests/Fixtures/formats/make_stories260K_fixtures.py
/// (safetensors written by the `safetensors` package; Q/K rows permuted as transformers does).
final class SafetensorsTests: XCTestCase {
    static let f32 = FormatFixtures.url("hf-f32")
    static let f16 = FormatFixtures.url("hf-f16")
    static let bf16Sharded = FormatFixtures.url("hf-bf16-sharded")

    func testF32FolderIsPermutedLlama2C() throws {
        try checkAgainstLlama2C(Self.f32) { $0 }
    }

    /// Half-precision copies must equal the llama2.c weights rounded the way IEEE conversion does.
    func testF16FolderIsRoundedLlama2C() throws {
        try checkAgainstLlama2C(Self.f16) { Float(Float16($0)) }
    }

    func testBF16ShardedFolderIsRoundedLlama2C() throws {
        try checkAgainstLlama2C(Self.bf16Sharded) { x in
            let b = x.bitPattern
            return Float(bitPattern: (b &+ 0x7FFF &+ ((b >> 16) & 1)) & 0xFFFF_0000)
        }
    }

    func testSafetensorsFileListsTensors() throws {
        let file = try SafetensorsFile(contentsOf: Self.f32.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(file.tensors.count, 2 + 5 * 9)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        let q = try file.tensor("model.layers.0.self_attn.k_proj.weight")
        XCTAssertEqual(q.dtype, .f32)
        XCTAssertEqual(q.shape, [32, 64])
        XCTAssertEqual(q.byteCount, 32 * 64 * 4)
    }

    // MARK: - Malformed files

    func testTruncatedFile() throws {
        let src = Self.f32.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: src)
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for (cut, what) in [(5, "header length"), (8 + headerLength / 2, "header JSON"), (bytes.count - 1, "data of tensor")] {
            let u = try FormatFixtures.write(bytes.prefix(cut), name: "cut\(cut).safetensors")
            let e = expectFormatError(mentions: ["cut\(cut).safetensors", what]) { _ = try SafetensorsFile(contentsOf: u) }
            guard case .truncated(_, _, _, _, cut)? = e else { return XCTFail("cut at \(cut): \(String(describing: e))") }
        }
    }

    func testBadHeaderJSON() throws {
        var bytes = try Data(contentsOf: Self.f32.appendingPathComponent("model.safetensors"))
        bytes[8 + 1] = UInt8(ascii: "}")
        let u = try FormatFixtures.write(bytes, name: "badjson.safetensors")
        guard case .corrupt(_, "header JSON", 8, _)? = expectFormatError(mentions: ["badjson.safetensors", "invalid JSON"], {
            _ = try SafetensorsFile(contentsOf: u)
        }) else { return XCTFail("bad JSON not reported as a corrupt header") }
    }

    func testBadDTypeAndInconsistentEntries() throws {
        func file(_ header: String, data: Int = 16, name: String) throws -> URL {
            var d = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(header.utf8))
            d.append(Data(count: data))
            return try FormatFixtures.write(d, name: name)
        }
        let q9 = try file(#"{"w":{"dtype":"Q9","shape":[4],"data_offsets":[0,16]}}"#, name: "q9.safetensors")
        XCTAssertEqual(expectFormatError(mentions: ["q9.safetensors", "'w'", "Q9"]) { _ = try SafetensorsFile(contentsOf: q9) },
                       .unsupportedDType(file: q9.path, tensor: "w", dtype: "Q9"))
        let i32 = try file(#"{"w":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}"#, name: "i32.safetensors")
        let parsed = try SafetensorsFile(contentsOf: i32)
        XCTAssertEqual(expectFormatError(mentions: ["i32.safetensors", "'w'", "I32"]) { _ = try parsed.floats("w") },
                       .unsupportedDType(file: i32.path, tensor: "w", dtype: "I32"))
        let short = try file(#"{"w":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}"#, name: "short.safetensors")
        expectFormatError(mentions: ["short.safetensors", "'w'", "data_offsets"]) { _ = try SafetensorsFile(contentsOf: short) }
        let beyond = try file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}"#, name: "beyond.safetensors")
        guard case .truncated? = expectFormatError(mentions: ["beyond.safetensors", "'w'"], { _ = try SafetensorsFile(contentsOf: beyond) })
        else { return XCTFail("data past the end not reported as truncation") }
        let noShape = try file(#"{"w":{"dtype":"F32","data_offsets":[0,16]}}"#, name: "noshape.safetensors")
        XCTAssertEqual(expectFormatError(mentions: ["noshape.safetensors", "w.shape"]) { _ = try SafetensorsFile(contentsOf: noShape) },
                       .missingField(file: noShape.path, field: "w.shape"))
        let hugeHeader = try file("{}", data: 0, name: "hugeheader.safetensors")
        var bytes = try Data(contentsOf: hugeHeader)
        bytes.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        try bytes.write(to: hugeHeader)
        expectFormatError(mentions: ["hugeheader.safetensors", "header JSON"]) { _ = try SafetensorsFile(contentsOf: hugeHeader) }
    }

    func testConfigDisagreeingWithTensors() throws {
        let dir = try copy(Self.f32)
        try editConfig(dir) { $0["intermediate_size"] = 160 }
        let e = expectFormatError(mentions: ["model.safetensors", "model.layers.0.mlp.gate_proj.weight"]) {
            _ = try HuggingFaceLlama.weights(folder: dir)
        }
        XCTAssertEqual(e, .shapeMismatch(file: dir.appendingPathComponent("model.safetensors").path,
                                         tensor: "model.layers.0.mlp.gate_proj.weight", expected: [160, 64], found: [172, 64]))
    }

    func testMissingTensorInShardIndex() throws {
        let dir = try copy(Self.bf16Sharded)
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any])
        var map = try XCTUnwrap(json["weight_map"] as? [String: String])
        map["model.layers.4.mlp.up_proj.weight"] = nil
        json["weight_map"] = map
        try JSONSerialization.data(withJSONObject: json).write(to: index)
        let e = expectFormatError(mentions: ["model.safetensors.index.json", "model.layers.4.mlp.up_proj.weight"]) {
            _ = try HuggingFaceLlama.weights(folder: dir)
        }
        XCTAssertEqual(e, .missingTensor(file: index.path, tensor: "model.layers.4.mlp.up_proj.weight"))
    }

    func testConfigErrors() throws {
        let dir = try copy(Self.f32)
        let config = dir.appendingPathComponent("config.json")
        try editConfig(dir) { $0["hidden_size"] = nil }
        XCTAssertEqual(expectFormatError(mentions: ["config.json", "hidden_size"]) { _ = try HuggingFaceLlama.config(folder: dir) },
                       .missingField(file: config.path, field: "hidden_size"))
        try editConfig(dir) { $0["hidden_size"] = 64; $0["num_hidden_layers"] = "five" }
        guard case .invalidConfig(_, "num_hidden_layers", _)? = expectFormatError(mentions: ["config.json", "num_hidden_layers"], {
            _ = try HuggingFaceLlama.config(folder: dir)
        }) else { return XCTFail("wrong field type not reported") }
        try editConfig(dir) { $0["num_hidden_layers"] = 5; $0["rope_scaling"] = ["type": "dynamic", "factor": 2.0] }
        XCTAssertEqual(expectFormatError(mentions: ["config.json", "rope_scaling.type", "dynamic"]) { _ = try HuggingFaceLlama.config(folder: dir) },
                       .invalidConfig(file: config.path, field: "rope_scaling.type", reason: "'dynamic' is not supported (only default, linear, llama3)"))
        try editConfig(dir) { $0["rope_scaling"] = nil; $0["model_type"] = "gemma" }
        XCTAssertEqual(expectFormatError(mentions: ["config.json", "model_type", "gemma"]) { _ = try HuggingFaceLlama.config(folder: dir) },
                       .invalidConfig(file: config.path, field: "model_type", reason: "'gemma' is not supported (only llama, mistral, qwen2)"))
        try editConfig(dir) { $0["model_type"] = "llama"; $0["layer_types"] = ["full_attention", "chunked_attention", "full_attention", "full_attention", "full_attention"] }
        XCTAssertEqual(expectFormatError(mentions: ["config.json", "layer_types", "chunked_attention"]) { _ = try HuggingFaceLlama.config(folder: dir) },
                       .invalidConfig(file: config.path, field: "layer_types", reason: "'chunked_attention' is not supported (only full_attention, sliding_attention)"))
        try editConfig(dir) { $0["layer_types"] = nil }
        try Data("{\"hidden_size\": 64,".utf8).write(to: config)
        guard case .corrupt? = expectFormatError(mentions: ["config.json", "JSON"], { _ = try HuggingFaceLlama.config(folder: dir) })
        else { return XCTFail("corrupt config.json not reported") }
    }

    // MARK: - Helpers

    /// Loads `folder`, checks config and every tensor against stories260K.bin with `round` applied
    /// and Q/K rows permuted from interleaved pairs to rotate-half halves.
    private func checkAgainstLlama2C(_ folder: URL, round: (Float) -> Float, file: StaticString = #filePath, line: UInt = #line) throws {
        let hf = try HuggingFaceLlama.weights(folder: folder)
        let l2c = try Llama2C.weights(contentsOf: Fixtures.stories260K)
        var expectedConfig = l2c.config
        expectedConfig.ropeStyle = .rotateHalf
        XCTAssertEqual(hf.config, expectedConfig, file: file, line: line)
        XCTAssertNil(hf.output, file: file, line: line)
        func same(_ a: [Float], _ b: [Float], _ what: String) {
            XCTAssertEqual(a, b.map(round), what, file: file, line: line)
        }
        same(hf.tokenEmbedding.storage, l2c.tokenEmbedding.storage, "embedding")
        same(hf.finalNorm, l2c.finalNorm, "final norm")
        let c = l2c.config
        for (i, (h, l)) in zip(hf.layers, l2c.layers).enumerated() {
            same(h.wq.storage, Self.rotateHalfRows(l.wq, heads: c.headCount).storage, "layer \(i) wq")
            same(h.wk.storage, Self.rotateHalfRows(l.wk, heads: c.kvHeadCount).storage, "layer \(i) wk")
            for (name, a, b) in [("wv", h.wv, l.wv), ("wo", h.wo, l.wo), ("gate", h.gate, l.gate), ("up", h.up, l.up),
                                 ("down", h.down, l.down)] {
                same(a.storage, b.storage, "layer \(i) \(name)")
            }
            same(h.attnNorm, l.attnNorm, "layer \(i) attn norm")
            same(h.ffnNorm, l.ffnNorm, "layer \(i) ffn norm")
        }
    }

    /// Within each head, the rows for pair elements 2i and 2i+1 move to i and i + headDim/2.
    static func rotateHalfRows(_ m: Matrix, heads: Int) -> Matrix {
        let hd = m.rows / heads
        var out = m
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                for j in 0..<2 {
                    let src = m.row(h * hd + 2 * i + j)
                    let dst = h * hd + j * (hd / 2) + i
                    out.storage.replaceSubrange((dst * m.cols)..<((dst + 1) * m.cols), with: src)
                }
            }
        }
        return out
    }

    private func copy(_ folder: URL, name: String = #function) throws -> URL {
        let dir = try Fixtures.temporaryDirectory(name).appendingPathComponent(folder.lastPathComponent)
        try FileManager.default.copyItem(at: folder, to: dir)
        return dir
    }

    private func editConfig(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }
}
