import Models
import Tensor
import TestSupport
import Training
import XCTest

/// The real data sets load with their templates; bad files fail naming the file, line and field.
final class InstructionDataTests: XCTestCase {
    static let tokenizer = try! ModelLoader.loadTokenizer(Fixtures.stories260K)

    func write(_ text: String, _ name: String) throws -> URL {
        let u = try Fixtures.temporaryDirectory(name).appendingPathComponent(name)
        try text.write(to: u, atomically: true, encoding: .utf8)
        return u
    }

    func testAlpacaAndGSM8KLoadWithTemplatesAndResponseOnlyLoss() throws {
        let alpaca = try InstructionData.load(Fixtures.url("Experiments/Data/alpaca/alpaca_en_demo.json"), format: .alpaca)
        XCTAssertEqual(alpaca.count, 999)
        XCTAssertTrue(alpaca[0].prompt.hasSuffix("### Instruction:\nDescribe a process of making crepes.\n\n### Response:\n"))
        XCTAssertTrue(alpaca[0].response.hasPrefix("Making crepes is an easy and delicious process!"))
        let gsm = try InstructionData.load(Fixtures.url("Experiments/Data/gsm8k/train.jsonl"), format: .gsm8k)
        XCTAssertEqual(gsm.count, 7473)
        XCTAssertTrue(gsm[0].prompt.hasPrefix("Question: Natalia sold clips"))
        XCTAssertTrue(gsm[0].response.hasSuffix("#### 72"))

        let ds = try InstructionDataset(Array(gsm.prefix(3)), tokenizer: Self.tokenizer, maxLength: nil, contextLength: 512, source: "gsm8k")
        let promptTokens = Self.tokenizer.encode(gsm[0].prompt, addBOS: true)
        XCTAssertEqual(ds.sequences[0].responseStart, promptTokens.count)
        XCTAssertEqual(Array(ds.sequences[0].tokens.prefix(promptTokens.count)), promptTokens)
        XCTAssertEqual(ds.sequences[0].tokens.last, Self.tokenizer.eosToken)
        let batch = TrainingBatch([ds.sequences[0]])
        XCTAssertEqual(batch.targets.prefix(promptTokens.count - 1).filter { $0 >= 0 }.count, 0, "no loss on the prompt")
        XCTAssertEqual(batch.scoredCount, ds.sequences[0].tokens.count - promptTokens.count)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try InstructionData.load(URL(fileURLWithPath: "/nonexistent/a.json"), format: .alpaca)) { e in
            XCTAssertEqual(e as? TrainingError, .dataFileNotFound(file: "/nonexistent/a.json"))
        }
    }

    func testMalformedAlpacaNamesLineAndField() throws {
        let u = try write("[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\": \"c\",\n   \"input\": \"\"}\n]\n", "bad.json")
        XCTAssertThrowsError(try InstructionData.load(u, format: .alpaca)) { e in
            XCTAssertEqual(e as? TrainingError, .malformedData(file: u.path, line: 3, field: "output", reason: "missing"))
        }
        let v = try write("[{\"instruction\": 3, \"output\": \"b\"}]", "type.json")
        XCTAssertThrowsError(try InstructionData.load(v, format: .alpaca)) { e in
            XCTAssertEqual(e as? TrainingError, .malformedData(file: v.path, line: 1, field: "instruction", reason: "expected a string"))
        }
        let w = try write("[{\"instruction\": \"a\",", "syntax.json")
        XCTAssertThrowsError(try InstructionData.load(w, format: .alpaca)) { e in
            guard case .malformedData(_, _, "(json)", let why)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains("invalid JSON"), why)
        }
    }

    func testMalformedGSM8KNamesLineAndField() throws {
        let u = try write("{\"question\": \"q\", \"answer\": \"a\"}\n{\"question\": \"q\"}\n", "bad.jsonl")
        XCTAssertThrowsError(try InstructionData.load(u, format: .gsm8k)) { e in
            XCTAssertEqual(e as? TrainingError, .malformedData(file: u.path, line: 2, field: "answer", reason: "missing"))
        }
        let v = try write("{\"question\": \"q\", \"answer\": \"a\"}\n\n{\"question\": \"q\", \"answer\": \n", "cut.jsonl")
        XCTAssertThrowsError(try InstructionData.load(v, format: .gsm8k)) { e in
            guard case .malformedData(_, 3, "(json)", _)? = e as? TrainingError else { return XCTFail("\(e)") }
        }
    }

    func testEmptyDataSet() throws {
        let u = try write("[]", "empty.json")
        XCTAssertThrowsError(try InstructionData.load(u, format: .alpaca)) { e in
            XCTAssertEqual(e as? TrainingError, .emptyDataset(file: u.path, reason: "the file holds no records"))
        }
        let long = [InstructionExample(prompt: String(repeating: "a long prompt ", count: 20), response: "x")]
        XCTAssertThrowsError(try InstructionDataset(long, tokenizer: Self.tokenizer, maxLength: 8, contextLength: 512, source: "s")) { e in
            guard case .emptyDataset? = e as? TrainingError else { return XCTFail("\(e)") }
        }
    }

    func testSequenceLongerThanContext() throws {
        let ex = [InstructionExample(prompt: "p", response: "short"), InstructionExample(prompt: "p", response: String(repeating: "word ", count: 40))]
        XCTAssertThrowsError(try InstructionDataset(ex, tokenizer: Self.tokenizer, maxLength: nil, contextLength: 32, source: "s")) { e in
            guard case .exampleTooLong("s", 1, let n, 32)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertGreaterThan(n, 32)
        }
        XCTAssertThrowsError(try InstructionDataset(ex, tokenizer: Self.tokenizer, maxLength: 64, contextLength: 32, source: "s")) { e in
            guard case .invalidConfig("maxLength", _)? = e as? TrainingError else { return XCTFail("\(e)") }
        }
        let cut = try InstructionDataset(ex, tokenizer: Self.tokenizer, maxLength: 16, contextLength: 32, source: "s")
        XCTAssertEqual(cut.truncatedCount, 1)
        XCTAssertEqual(cut.sequences[1].tokens.count, 16)

        let model = try TrainableLlama(ModelLoader.load(Fixtures.stories260K).weights, maxPositions: 8)
        XCTAssertThrowsError(try model.loss(TrainingBatch([TrainingSequence(tokens: Array(repeating: 5, count: 9), responseStart: 1)]))) { e in
            XCTAssertEqual(e as? TrainingError, .sequenceTooLong(length: 9, limit: 8))
        }
    }
}
