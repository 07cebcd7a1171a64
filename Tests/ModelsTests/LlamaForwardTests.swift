import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// The forward pass against reference values from independent NumPy implementations
/// (Tests/Fixtures/llama/make_fixtures.py).
final class LlamaForwardTests: XCTestCase {
    struct StoriesFixture: Decodable {
        var text: String
        var tokens: [Int]
        var nll: Double
        var perplexity: Double
        var logits_first3: [[Double]]
        var greedy_from_bos: [Int]
    }

    struct SmolFixture: Decodable {
        var text: String
        var tokens: [Int]
        var nll: Double
        var perplexity: Double
        var column_stride: Int
        var greedy_prompt: [Int]
    }

    static func fixture<T: Decodable>(_ name: String) throws -> T {
        try Fixtures.json("Tests/Fixtures/llama/\(name)")
    }

    static let stories: LoadedModel = try! ModelLoader.load(Fixtures.stories260K)

    func testStoriesPerplexityMatchesReference() throws {
        let f: StoriesFixture = try Self.fixture("stories260K.json")
        let m = Self.stories
        XCTAssertEqual(m.tokenizer.encode(f.text, addBOS: true), f.tokens, "tokenizer disagrees with l2c.py")
        let model = Llama(m.weights)
        let lp = try model.nextTokenLogProbabilities([f.tokens])[0]
        let nll = -lp.reduce(0.0) { $0 + Double($1) } / Double(lp.count)
        XCTAssertEqual(nll, f.nll, accuracy: 1e-4)
        XCTAssertEqual(exp(nll), 2.06, accuracy: 0.01)
        let logits = try model.forward(TokenBatch(Array(f.tokens.prefix(3))))
        for r in 0..<3 {
            for v in 0..<m.config.vocabSize {
                XCTAssertEqual(Double(logits[r, v]), f.logits_first3[r][v], accuracy: 1e-4, "row \(r) id \(v)")
            }
        }
    }

    func testStoriesGreedyFromBOS() throws {
        let f: StoriesFixture = try Self.fixture("stories260K.json")
        let m = Self.stories
        let out = try Generator(model: Llama(m.weights)).generate(prompt: [1], maxNewTokens: f.greedy_from_bos.count)
        XCTAssertEqual(out, f.greedy_from_bos)
        XCTAssertTrue(m.tokenizer.decode(out).hasPrefix(" Once upon a time"), m.tokenizer.decode(out))

        // `inspect` sees every step's logits before the choice: greedy takes their argmax, and the
        // rows are those of a plain forward of the sequence so far (the prompt's last row first).
        var seen: [[Float]] = []
        let inspected = try Generator(model: Llama(m.weights), decodeActivations: .float32)
            .generate(prompt: [1], maxNewTokens: 6, inspect: { seen.append(Array($0)) })
        XCTAssertEqual(inspected, Array(f.greedy_from_bos.prefix(6)))
        XCTAssertEqual(seen.map { row in row.indices.max { row[$0] < row[$1] }! }, inspected)
        let full = try Llama(m.weights).forward(TokenBatch([1] + inspected.dropLast()))
        for (step, row) in seen.enumerated() {
            for v in stride(from: 0, to: row.count, by: 37) { XCTAssertEqual(row[v], full[step, v], accuracy: 1e-4, "step \(step) id \(v)") }
        }
    }

    /// Incremental decoding through the cache, packed batches of unequal sequences and forked shared
    /// prefixes all give the logits of one plain full-sequence forward.
    func testCacheBatchingAndForksMatchFullForward() throws {
        let m = Self.stories
        let model = Llama(m.weights)
        let a = m.tokenizer.encode("Once upon a time, there was a cat.", addBOS: true)
        let b = m.tokenizer.encode("The dog ran to the park and played.", addBOS: true)
        let fullA = try model.forward(TokenBatch(a)), fullB = try model.forward(TokenBatch(b))

        let packed = try model.forward(TokenBatch(sequences: [a, b]))
        assertClose(packed, rows: 0..<a.count, fullA, rows: 0..<a.count)
        assertClose(packed, rows: a.count..<(a.count + b.count), fullB, rows: 0..<b.count)

        let cache = KVCache(config: model.config, slots: 2, capacity: 64)
        var stepwise: [Float] = []
        for t in a { stepwise += try model.forward(TokenBatch([t]), cache: cache, logits: .all).storage }
        assertClose(Matrix(rows: a.count, cols: model.config.vocabSize, storage: stepwise), rows: 0..<a.count,
                    fullA, rows: 0..<a.count)

        // Slot 1 forks slot 0 after 4 tokens and continues with b's tail.
        let shared = Array(a.prefix(4)), tail = Array(b.dropFirst(4))
        let forkRef = try model.forward(TokenBatch(shared + tail))
        cache.fork(slot: 1, from: 0, length: 4)
        var forkBatch = TokenBatch()
        forkBatch.append(tail, slot: 1)
        let forked = try model.forward(forkBatch, cache: cache)
        assertClose(forked, rows: 0..<tail.count, forkRef, rows: 4..<(4 + tail.count))
    }

    func testBadInputsAreRejected() throws {
        let model = Llama(Self.stories.weights, maxPositions: 16)
        XCTAssertThrowsError(try model.forward(TokenBatch([1, 600]))) { e in
            XCTAssertEqual(e as? LlamaError, .tokenOutOfRange(token: 600, position: 1, vocabSize: 512))
        }
        XCTAssertThrowsError(try model.forward(TokenBatch(Array(repeating: 5, count: 17)))) { e in
            XCTAssertEqual(e as? LlamaError, .contextOverflow(slot: 0, length: 17, limit: 16))
        }
        let cache = KVCache(config: model.config, slots: 1, capacity: 8)
        XCTAssertThrowsError(try model.forward(TokenBatch(sequences: [[1], [2]]), cache: cache)) { e in
            XCTAssertEqual(e as? LlamaError, .invalidSlot(slot: 1, slots: 1))
        }
    }

    func testSmolLM2LogitsPerplexityAndGreedy() throws {
        let m = try ModelLoader.load(Fixtures.smolLM2())
        let f: SmolFixture = try Self.fixture("smollm2.json")
        XCTAssertEqual(m.tokenizer.encode(f.text), f.tokens)
        let model = Llama(m.weights)
        let V = m.config.vocabSize, T = f.tokens.count
        let logits = try model.forward(TokenBatch(f.tokens))
        let ref = try Data(contentsOf: Fixtures.url("Tests/Fixtures/llama/smollm2_logits.f32")).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }
        let cols = stride(from: 0, to: V, by: f.column_stride).map { $0 }
        var maxDiff: Float = 0
        for t in 0..<T { for (j, c) in cols.enumerated() { maxDiff = max(maxDiff, abs(logits[t, c] - ref[t * cols.count + j])) } }
        for v in 0..<V { maxDiff = max(maxDiff, abs(logits[T - 1, v] - ref[T * cols.count + v])) }
        print("SmolLM2 logits max |Δ| vs NumPy float64: \(maxDiff)")
        XCTAssertLessThanOrEqual(maxDiff, 1e-3)

        let nll = try model.windowedNLL(f.tokens, window: 2048)
        print(String(format: "SmolLM2 perplexity on the %d-token paragraph: %.4f (reference %.4f)", T, nll.perplexity, f.perplexity))
        XCTAssertEqual(nll.meanNLL, f.nll, accuracy: 1e-4)
        XCTAssertEqual(nll.perplexity, 7.3, accuracy: 0.1)

        let out = try Generator(model: model).generate(prompt: f.greedy_prompt, maxNewTokens: 8)
        XCTAssertTrue(m.tokenizer.decode(out).contains(" Paris"), m.tokenizer.decode(out))
    }

    private func assertClose(_ a: Matrix, rows ra: Range<Int>, _ b: Matrix, rows rb: Range<Int>,
                             file: StaticString = #filePath, line: UInt = #line) {
        var worst: Float = 0
        for (i, j) in zip(ra, rb) { for v in 0..<a.cols { worst = max(worst, abs(a[i, v] - b[j, v])) } }
        XCTAssertLessThanOrEqual(worst, 1e-4, file: file, line: line)
    }
}
