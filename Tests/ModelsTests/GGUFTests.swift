import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// GGUF parsing and dequantization against files and values produced by the reference `gguf`
/// Python package (Tests/Fixtures/formats/make_gguf_fixtures.py).
final class GGUFTests: XCTestCase {
    let typesURL = FormatFixtures.url("types.gguf")

    func testMetadataOfEveryValueType() throws {
        let g = try GGUFFile(contentsOf: typesURL)
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.alignment, 64)
        XCTAssertEqual(g.dataOffset % 64, 0)
        let m = g.metadata
        XCTAssertEqual(m["general.architecture"], .string("llama"))
        XCTAssertEqual(m["general.alignment"], .uint32(64))
        XCTAssertEqual(m["test.u8"], .uint8(200))
        XCTAssertEqual(m["test.i8"], .int8(-100))
        XCTAssertEqual(m["test.u16"], .uint16(60000))
        XCTAssertEqual(m["test.i16"], .int16(-30000))
        XCTAssertEqual(m["test.u32"], .uint32(4_000_000_000))
        XCTAssertEqual(m["test.i32"], .int32(-2_000_000_000))
        XCTAssertEqual(m["test.f32"], .float32(0.15625))
        XCTAssertEqual(m["test.u64"], .uint64(1 << 63 + 5))
        XCTAssertNil(m["test.u64"]?.int, "a uint64 beyond Int.max has no Int value")
        XCTAssertEqual(m["test.i64"], .int64(-(1 << 62)))
        XCTAssertEqual(m["test.f64"], .float64(1.0 / 3.0))
        XCTAssertEqual(m["test.bool"], .bool(true))
        XCTAssertEqual(m["test.string"], .string("héllo wörld ✓"))
        XCTAssertEqual(m["test.ints"], .array([.int32(1), .int32(-2), .int32(3)]))
        XCTAssertEqual(m["test.ints"]?.ints, [1, -2, 3])
        XCTAssertEqual(m["test.strings"]?.strings, ["a", "bc", ""])
        XCTAssertEqual(m["test.nested"], .array([.array([.int32(1), .int32(2)]), .array([.int32(3)]),
                                                 .array([.int32(4), .int32(5), .int32(6)])]))
        XCTAssertEqual(m["test.nested_strings"]?.array?.compactMap(\.strings), [["x", "y"], ["z"]])
        XCTAssertEqual(m.count, 18)
    }

    func testTensorTableMatchesGGUFReader() throws {
        let g = try GGUFFile(contentsOf: typesURL)
        let ref = try XCTUnwrap(FormatFixtures.json("types.json")["tensors"] as? [[String: Any]])
        try checkTensorTable(g, ref)
        XCTAssertEqual(try g.tensor("f32_3d").dims, [4, 3, 2])
        XCTAssertEqual(try g.tensor("q6_k").byteCount, 2 * 210)
    }

    /// Each quantized tensor must decode to exactly what gguf.quants.dequantize gave (stored beside
    /// it as an F32 tensor), bit for bit.
    func testDequantizationIsBitExact() throws {
        let g = try GGUFFile(contentsOf: typesURL)
        for (name, type) in [("f16", GGMLType.f16), ("bf16", .bf16), ("q8_0", .q8_0), ("q4_0", .q4_0), ("q4_1", .q4_1)] {
            XCTAssertEqual(try g.tensor(name).type, type)
            let ours = try g.floats(name).map(\.bitPattern)
            let reference = try g.floats(name + ".expected").map(\.bitPattern)
            XCTAssertEqual(ours.count, reference.count, name)
            XCTAssertEqual(ours, reference, "\(name) differs from gguf.quants.dequantize")
        }
    }

    /// `replaceTensor` re-encodes a tensor in place (same dims and position), checking its size.
    func testWriterReplacesATensorInPlace() throws {
        var w = GGUFWriter()
        try w.addTensor("a", dims: [2], floats: [1, 2])
        try w.addTensor("b", dims: [32], floats: (0..<32).map { Float($0) / 4 })
        try w.addTensor("c", dims: [1], floats: [3])
        let halves = (0..<32).flatMap { i in withUnsafeBytes(of: Float16(Float(i) / 4).bitPattern.littleEndian) { Array($0) } }
        try w.replaceTensor("b", type: .f16, data: halves)
        XCTAssertThrowsError(try w.replaceTensor("b", type: .f16, data: Array(halves.dropLast(2)))) { e in
            guard case ModelFormatError.shapeMismatch(_, "b", [32], [62]) = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try w.replaceTensor("d", type: .f32, data: [0, 0, 0, 0])) { e in
            guard case ModelFormatError.missingTensor(_, "d") = e else { return XCTFail("\(e)") }
        }
        let url = try Fixtures.temporaryDirectory().appendingPathComponent("replaced.gguf")
        try w.write(to: url)
        let g = try GGUFFile(contentsOf: url)
        XCTAssertEqual(g.tensors.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(try g.tensor("b").type, .f16)
        XCTAssertEqual(try g.floats("b"), (0..<32).map { Float($0) / 4 })
        XCTAssertEqual(try g.floats("c"), [3])
    }

    func testUndecodableTypeIsListedButRefused() throws {
        let g = try GGUFFile(contentsOf: typesURL)
        XCTAssertEqual(try g.tensor("q6_k").type, .q6_K)
        let e = expectFormatError(mentions: ["types.gguf", "q6_k", "Q6_K"]) { _ = try g.floats("q6_k") }
        XCTAssertEqual(e, .unsupportedDType(file: typesURL.path, tensor: "q6_k", dtype: "Q6_K"))
        XCTAssertEqual(expectFormatError(mentions: ["nope"]) { _ = try g.floats("nope") },
                       .missingTensor(file: typesURL.path, tensor: "nope"))
    }

    func testSmolLM2MatchesGGUFReader() throws {
        let url = try Fixtures.smolLM2()
        let ref = try FormatFixtures.json("smollm2_reference.json")
        let g = try GGUFFile(contentsOf: url)
        let meta = try XCTUnwrap(ref["metadata"] as? [String: Any])
        for (key, value) in meta {
            let ours = try XCTUnwrap(g.metadata[key], key)
            switch value {
            case let s as String: XCTAssertEqual(ours.string, s, key)
            case let b as Bool where ours.bool != nil: XCTAssertEqual(ours.bool, b, key)
            case let i as Int where ours.int != nil: XCTAssertEqual(ours.int, i, key)
            case let d as Double: XCTAssertEqual(try XCTUnwrap(ours.double, key), d, accuracy: abs(d) * 1e-12, key)
            default: XCTFail("unexpected reference value for \(key): \(value)")
            }
        }
        let tokens = try XCTUnwrap(g.metadata["tokenizer.ggml.tokens"]?.strings)
        XCTAssertEqual(tokens.count, ref["token_count"] as? Int)
        for (i, t) in try XCTUnwrap(ref["tokens_sample"] as? [String: String]) { XCTAssertEqual(tokens[Int(i)!], t) }
        let merges = try XCTUnwrap(g.metadata["tokenizer.ggml.merges"]?.strings)
        XCTAssertEqual(merges.count, ref["merge_count"] as? Int)
        for (i, m) in try XCTUnwrap(ref["merges_sample"] as? [String: String]) { XCTAssertEqual(merges[Int(i)!], m) }
        let types = try XCTUnwrap(g.metadata["tokenizer.ggml.token_type"]?.ints)
        for (t, n) in try XCTUnwrap(ref["token_type_counts"] as? [String: Int]) {
            XCTAssertEqual(types.filter { $0 == Int(t)! }.count, n, "token type \(t)")
        }
        XCTAssertEqual(g.dataOffset, ref["data_offset"] as? Int)
        try checkTensorTable(g, try XCTUnwrap(ref["tensors"] as? [[String: Any]]))

        let values = try XCTUnwrap(ref["values"] as? [String: Any])
        for (label, summary) in values {
            let s = try TensorSummary(summary)
            var name = label
            var all: [Float]
            if let bracket = label.firstIndex(of: "[") {
                name = String(label[..<bracket])
                let row = Int(label[label.index(after: bracket)...].dropLast())!
                all = try g.floats(name)
                let cols = try g.tensor(name).dims[0]
                all = Array(all[(row * cols)..<((row + 1) * cols)])
            } else {
                all = try g.floats(name)
            }
            s.check(all, label)
        }
    }

    // MARK: - Malformed files

    func testTruncationAnywhereIsReportedWithWhatWasBeingRead() throws {
        let bytes = try Data(contentsOf: typesURL)
        let info = try FormatFixtures.json("types.json")
        let fields = try XCTUnwrap(info["fields"] as? [String: Int])
        let tensors = try XCTUnwrap(info["tensors"] as? [[String: Any]])
        let q8 = try XCTUnwrap(tensors.first { $0["name"] as? String == "q8_0" })
        let q8Offset = try XCTUnwrap(q8["offset"] as? Int)
        let firstInfo = try XCTUnwrap(tensors[0]["info_offset"] as? Int)
        let secondInfo = try XCTUnwrap(tensors[1]["info_offset"] as? Int)
        let lastEnd = try XCTUnwrap(tensors.last?["offset"] as? Int) + (try XCTUnwrap(tensors.last?["bytes"] as? Int))
        let cuts: [(Int, String)] = [
            (0, "magic"), (3, "magic"), (6, "version"), (12, "tensor count"), (20, "metadata count"),
            (fields["test.string"]! - 1, "metadata 'test.bool'"),
            (fields["test.nested"]! - 1, "metadata 'test.strings'"),
            (fields["test.nested"]! + 30, "metadata 'test.nested'"),
            (firstInfo - 1, "metadata 'test.nested_strings'"),
            (firstInfo + 5, "tensor #0 name"),
            (secondInfo - 1, "data offset of tensor 'f32_3d'"),
            (q8Offset + 7, "data of tensor 'q8_0'"),
            (lastEnd - 1, "data of tensor 'q6_k'"),
        ]
        for (cut, what) in cuts {
            let url = try FormatFixtures.write(bytes.prefix(cut), name: "cut\(cut).gguf")
            let e = expectFormatError(mentions: ["cut\(cut).gguf", what]) { _ = try GGUFFile(contentsOf: url) }
            guard case .truncated(_, _, _, _, let size)? = e else { return XCTFail("cut at \(cut): \(String(describing: e))") }
            XCTAssertEqual(size, cut)
        }
    }

    func testSmolLM2CutInsideTensorData() throws {
        let url = try Fixtures.smolLM2()
        let full = try GGUFFile(contentsOf: url)
        let victim = full.tensors[10]
        let cut = victim.offset + victim.byteCount / 2
        let handle = try FileHandle(forReadingFrom: url)
        let prefix = try XCTUnwrap(handle.read(upToCount: cut))
        let cutURL = try FormatFixtures.write(prefix, name: "smol-cut.gguf")
        let e = expectFormatError(mentions: ["smol-cut.gguf", victim.name]) { _ = try GGUFFile(contentsOf: cutURL) }
        XCTAssertEqual(e, .truncated(file: cutURL.path, what: "data of tensor '\(victim.name)'", offset: victim.offset,
                                     needed: victim.byteCount, fileSize: cut))
    }

    func testWrongMagicAndUnsupportedVersion() throws {
        var bytes = try Data(contentsOf: typesURL)
        bytes[0] = UInt8(ascii: "X")
        let magicURL = try FormatFixtures.write(bytes, name: "magic.gguf")
        XCTAssertEqual(expectFormatError(mentions: ["magic.gguf", "XGUF"]) { _ = try GGUFFile(contentsOf: magicURL) },
                       .badMagic(file: magicURL.path, expected: "GGUF", found: "'XGUF'"))
        bytes[0] = UInt8(ascii: "G")
        bytes[4] = 4
        let versionURL = try FormatFixtures.write(bytes, name: "v4.gguf")
        XCTAssertEqual(expectFormatError(mentions: ["v4.gguf", "4"]) { _ = try GGUFFile(contentsOf: versionURL) },
                       .unsupportedVersion(file: versionURL.path, version: 4))
    }

    func testUnknownGGMLType() throws {
        var b = GGUFBytes(tensors: 1, kvs: 0)
        b.tensorInfo("blk.0.attn_q.weight", dims: [32, 2], type: 99)
        b.alignedData(64)
        let url = try FormatFixtures.write(b.data, name: "type99.gguf")
        let e = expectFormatError(mentions: ["type99.gguf", "blk.0.attn_q.weight", "99"]) { _ = try GGUFFile(contentsOf: url) }
        guard case .unsupportedDType(_, "blk.0.attn_q.weight", _)? = e else { return XCTFail("\(String(describing: e))") }
    }

    /// Structurally impossible values must be rejected with an error naming the entry, before any
    /// allocation sized by them.
    func testCorruptStructure() throws {
        func check(_ name: String, _ mentions: [String], _ build: (inout GGUFBytes) -> Void, tensors: UInt64 = 0, kvs: UInt64 = 1) throws {
            var b = GGUFBytes(tensors: tensors, kvs: kvs)
            build(&b)
            let url = try FormatFixtures.write(b.data, name: name + ".gguf")
            expectFormatError(mentions: [name + ".gguf"] + mentions) { _ = try GGUFFile(contentsOf: url) }
        }
        try check("huge-tensor-count", ["tensor count"], { _ in }, tensors: 1 << 60, kvs: 0)
        try check("huge-kv-count", ["metadata count"], { _ in }, kvs: UInt64.max)
        try check("huge-array", ["metadata 'a'", "array length"], { b in
            b.string("a"); b.u32(9); b.u32(4); b.u64(1 << 40)
        })
        try check("deep-array", ["metadata 'a'", "nested"], { b in
            b.string("a")
            b.u32(9)
            for _ in 0..<20 { b.u32(9); b.u64(1) }
            b.u32(4); b.u64(1); b.u32(7)
        })
        try check("bad-bool", ["metadata 'flag'", "bool"], { b in b.kv("flag", type: 7, [2]) })
        try check("bad-value-type", ["metadata 'x'", "value type 13"], { b in b.kv("x", type: 13, [0, 0, 0, 0]) })
        try check("bad-utf8", ["metadata key #0", "UTF-8"], { b in b.string([0xFF, 0xFE]); b.u32(0); b.bytes([1]) })
        try check("duplicate-key", ["metadata 'k'", "duplicate"], { b in
            b.kv("k", type: 0, [1]); b.kv("k", type: 0, [2])
        }, kvs: 2)
        try check("bad-alignment", ["general.alignment"], { b in b.kv("general.alignment", type: 4, [3, 0, 0, 0]) })
        try check("five-dims", ["tensor 'w'", "5 dimensions"], { b in
            b.tensorInfo("w", dims: [1, 1, 1, 1, 1], type: 0); b.alignedData(4)
        }, tensors: 1, kvs: 0)
        try check("partial-block", ["tensor 'w'", "Q4_1"], { b in
            b.tensorInfo("w", dims: [16, 2], type: 3); b.alignedData(64)
        }, tensors: 1, kvs: 0)
        try check("overflowing-dims", ["tensor 'w'"], { b in
            b.tensorInfo("w", dims: [1 << 40, 1 << 40], type: 0); b.alignedData(4)
        }, tensors: 1, kvs: 0)
        try check("misaligned", ["tensor 'w'", "alignment"], { b in
            b.tensorInfo("w", dims: [4], type: 0, offset: 3); b.alignedData(32)
        }, tensors: 1, kvs: 0)
        try check("offset-past-end", ["data of tensor 'w'"], { b in
            b.tensorInfo("w", dims: [4], type: 0, offset: UInt64(Int64.max) - 31); b.alignedData(32)
        }, tensors: 1, kvs: 0)
        try check("duplicate-tensor", ["tensor 'w'", "duplicate"], { b in
            b.tensorInfo("w", dims: [4], type: 0); b.tensorInfo("w", dims: [4], type: 0, offset: 32); b.alignedData(64)
        }, tensors: 2, kvs: 0)
    }

    /// Random byte corruption of a valid file must only ever produce thrown errors (or, when the
    /// damage lands in tensor data, a successful parse) — never a crash.
    func testRandomCorruptionNeverCrashes() throws {
        let original = try Data(contentsOf: typesURL)
        let url = try FormatFixtures.write(original, name: "fuzz.gguf")
        // Every mutant has the original's length, so overwriting in place avoids a slow truncate per case.
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var rng = SeededRandom(seed: 7)
        var failures = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                // most damage goes into the header and metadata, where parsing decisions are made
                let limit = Bool.random(using: &rng) ? 1400 : bytes.count
                bytes[Int.random(in: 0..<limit, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: bytes)
            do {
                let g = try GGUFFile(contentsOf: url)
                for t in g.tensors where t.type.dequantizer != nil { _ = try g.floats(t) }
            } catch is ModelFormatError {
                failures += 1
            }
        }
        XCTAssertGreaterThan(failures, 300, "corruption of the header should usually be detected")
    }

    private func checkTensorTable(_ g: GGUFFile, _ ref: [[String: Any]], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(g.tensors.count, ref.count, file: file, line: line)
        for (ours, r) in zip(g.tensors, ref) {
            XCTAssertEqual(ours.name, r["name"] as? String, file: file, line: line)
            XCTAssertEqual(ours.dims, r["dims"] as? [Int], ours.name, file: file, line: line)
            XCTAssertEqual(ours.type.rawValue, (r["type"] as? Int).map(UInt32.init), ours.name, file: file, line: line)
            XCTAssertEqual(ours.offset, r["offset"] as? Int, ours.name, file: file, line: line)
            XCTAssertEqual(ours.byteCount, r["bytes"] as? Int, ours.name, file: file, line: line)
        }
    }
}
