import Export
import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import XCTest

/// The type a float matrix (embedding, untied head) is exported in: the most compact of Q8_0, F16
/// and F32 whose ggml dequantization equals the floats bit for bit.
final class LlamaCppFloatTensorTests: XCTestCase {
    static func random(_ rows: Int, _ cols: Int, seed: UInt64 = 5) -> Matrix {
        var r = SeededRandom(seed: seed)
        return Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in 2 * r.nextUnitFloat() - 1 })
    }

    /// `m`'s values on ggml's Q8_0 grid, as qaft holds a Q8_0 tensor it read.
    static func onQ8Grid(_ m: Matrix) throws -> Matrix {
        try Q8Zero.quantize(m).dequantized()
    }

    /// Encodes `m`, checks ggml's dequantization gives `m` back bit for bit, returns the type.
    func encoded(_ m: Matrix, _ what: String) -> GGMLType {
        let t = LlamaCppFloatTensor(m)
        let back = t.type.dequantize(t.data, count: m.storage.count)
        XCTAssertEqual(back?.map(\.bitPattern), m.storage.map(\.bitPattern), "\(what): \(t.type) does not reproduce the floats")
        return t.type
    }

    func testMostCompactExactType() throws {
        let floats = Self.random(8, 64)
        let grid = try Self.onQ8Grid(floats)
        XCTAssertEqual(encoded(grid, "Q8_0 grid"), .q8_0)
        XCTAssertEqual(LlamaCppFloatTensor(grid).data.count, 8 * 64 / 32 * 34)
        // A grid with fewer levels: Q4_0's d·(q − 8), whose largest |q − 8| is 8, not 127.
        var q4 = Matrix(zeros: 4, 64)
        for i in q4.storage.indices { q4.storage[i] = Float(Float16(0.013 * Float(1 + i / 32))) * Float(i * 7 % 16 - 8) }
        XCTAssertEqual(encoded(q4, "Q4_0 grid"), .q8_0)
        XCTAssertEqual(encoded(Matrix(zeros: 2, 32), "zeros"), .q8_0)

        let halves = Matrix(rows: 8, cols: 64, storage: floats.storage.map { Float(Float16($0)) })
        XCTAssertEqual(encoded(halves, "fp16 values"), .f16)
        // One value one ulp off the grid: its block has no exact d, and it is no fp16 either.
        var nudged = grid
        nudged.storage[40] = nudged.storage[40].nextUp
        XCTAssertEqual(encoded(nudged, "grid + 1 ulp"), .f32)
        XCTAssertEqual(encoded(floats, "random floats"), .f32)
        // Q8_0 dequantizes a zero code to +0, so a −0 is kept by F16 instead.
        var negativeZero = Matrix(zeros: 2, 32)
        negativeZero.storage[3] = -0.0
        XCTAssertEqual(encoded(negativeZero, "a −0"), .f16)
        // Rows that are not whole 32-weight blocks cannot be Q8_0, whatever their values.
        let blocks = try Self.onQ8Grid(Self.random(1, 96))
        XCTAssertEqual(encoded(blocks, "3 blocks in a row"), .q8_0)
        XCTAssertEqual(encoded(Matrix(rows: 2, cols: 48, storage: blocks.storage), "rows of 48"), .f32)
        // stories260K, trained in float32 (llama2.c), is on neither grid.
        XCTAssertEqual(encoded(try ModelLoader.load(Fixtures.stories260K).weights.tokenEmbedding, "stories260K"), .f32)
    }

    /// SmolLM2's embedding as qaft reads it re-encodes to the very Q8_0 bytes of the source GGUF.
    func testSmolLM2EmbeddingReencodesToItsSourceBytes() throws {
        let file = try GGUFFile(contentsOf: try Fixtures.smolLM2())
        let source = try file.tensor("token_embd.weight")
        XCTAssertEqual(source.type, .q8_0)
        let embedding = try file.llamaWeights().tokenEmbedding
        let t = LlamaCppFloatTensor(embedding)
        XCTAssertEqual(t.type, .q8_0)
        XCTAssertTrue(t.data == (try file.rawBytes(source)), "re-encoded blocks differ from the source file's")
    }
}
