import Foundation
import TestSupport
import XCTest
@testable import Evaluation

final class DataLoadingTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(Checksum.sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Checksum.sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Checksum.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(Checksum.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256HashesFiveMegabytesFast() {
        let bytes = (0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let start = Date()
        _ = Checksum.sha256Hex(bytes)
        let seconds = Date().timeIntervalSince(start)
        print("sha256 of 5 MB: \(String(format: "%.4f", seconds)) s")
        XCTAssertLessThan(seconds, 0.1)
    }

    func testEveryListedFileVerifies() throws {
        let data = try DataDirectory.vendored(repositoryRoot: Fixtures.root)
        XCTAssertGreaterThan(data.checksums.count, 180)
        for path in data.checksums.keys { XCTAssertNoThrow(try data.bytes(path), path) }
        // gunzip gives the documented raw size order of magnitude and valid JSONL.
        let hs = try data.text("hellaswag/hellaswag_validation.jsonl.gz")
        XCTAssertEqual(hs.split(separator: "\n").count, 10_042)
    }

    private func scratchCopy(_ files: [String: [UInt8]], sums: [String: String]) throws -> DataDirectory {
        let dir = try Fixtures.temporaryDirectory()
        for (path, bytes) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        let list = sums.map { "\($0.value)  ./\($0.key)\n" }.joined()
        try Data(list.utf8).write(to: dir.appendingPathComponent("SHA256SUMS"))
        return try DataDirectory(root: dir)
    }

    func testMissingFileIsReported() throws {
        let data = try scratchCopy([:], sums: ["piqa/piqa_validation.jsonl": String(repeating: "0", count: 64)])
        XCTAssertThrowsError(try PIQA().documents(from: data)) { error in
            guard case EvaluationError.fileNotFound(let f) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(f.hasSuffix("piqa/piqa_validation.jsonl"))
        }
        XCTAssertThrowsError(try data.bytes("unlisted.txt")) { error in
            guard case EvaluationError.notInChecksumList = error else { return XCTFail("\(error)") }
        }
    }

    func testCorruptedFileFailsChecksum() throws {
        let good = Array(#"{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}"#.utf8) + [10]
        var bad = good
        bad[10] ^= 1
        let data = try scratchCopy(["piqa/piqa_validation.jsonl": bad], sums: ["piqa/piqa_validation.jsonl": Checksum.sha256Hex(good)])
        XCTAssertThrowsError(try PIQA().documents(from: data)) { error in
            guard case EvaluationError.checksumMismatch(_, let expected, let found) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(expected, Checksum.sha256Hex(good))
            XCTAssertEqual(found, Checksum.sha256Hex(bad))
        }
    }

    func testMalformedJSONLNamesLineAndField() throws {
        let text = #"{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}"# + "\n" + #"{"goal": "g", "sol1": "a", "label": 1}"# + "\n"
        let data = try scratchCopy(["piqa/piqa_validation.jsonl": Array(text.utf8)],
                                   sums: ["piqa/piqa_validation.jsonl": Checksum.sha256Hex(Array(text.utf8))])
        XCTAssertThrowsError(try PIQA().documents(from: data)) { error in
            XCTAssertEqual(error as? EvaluationError,
                           .malformedRecord(file: "piqa/piqa_validation.jsonl", line: 2, field: "sol2", reason: "missing"))
        }
        let typed = #"{"sentence": "a _ b", "option1": "x", "option2": "y", "answer": 2}"# + "\n"
        let valid = #"{"sentence": "a _ b", "option1": "x", "option2": "y", "answer": "2"}"# + "\n"
        XCTAssertThrowsError(try JSONLines.decode(WinoRow.self, from: Array(typed.utf8), file: "w.jsonl")) { error in
            guard case EvaluationError.malformedRecord(_, 1, "answer", _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try JSONLines.decode(WinoRow.self, from: Array("{\"sentence\": \n".utf8), file: "w.jsonl")) { error in
            guard case EvaluationError.malformedRecord(_, 1, "(json)", _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try JSONLines.decode(WinoRow.self, from: Array(valid.utf8) + [10] + Array(valid.utf8), file: "w.jsonl")) { error in
            XCTAssertEqual(error as? EvaluationError, .malformedRecord(file: "w.jsonl", line: 2, field: "(line)", reason: "empty line"))
        }
    }

    struct WinoRow: Decodable { let sentence: String, option1: String, option2: String, answer: String }

    func testGunzipRoundTripAndTruncation() throws {
        let data = try DataDirectory.vendored(repositoryRoot: Fixtures.root)
        let gz = [UInt8](try Data(contentsOf: data.root.appendingPathComponent("boolq/boolq_validation.jsonl.gz")))
        let raw = try Gzip.decompress(gz, file: "boolq")
        XCTAssertEqual(raw.filter { $0 == 10 }.count, 3270)
        XCTAssertThrowsError(try Gzip.decompress(Array(gz.prefix(gz.count / 2)), file: "half.gz")) { error in
            guard case EvaluationError.decompressionFailed("half.gz", _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Gzip.decompress(Array("not gzip".utf8), file: "x.gz")) { error in
            guard case EvaluationError.decompressionFailed("x.gz", _) = error else { return XCTFail("\(error)") }
        }
    }

    func testCSVQuotingCommasNewlinesAndErrors() throws {
        let text = "plain,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",x,A\r\nq,1,2,3,4,B\n"
        let rows = try CSV.parse(text, file: "t.csv")
        XCTAssertEqual(rows.map(\.fields), [["plain", "a, b", "say \"hi\"", "two\nlines", "x", "A"], ["q", "1", "2", "3", "4", "B"]])
        XCTAssertEqual(rows.map(\.line), [1, 3])
        XCTAssertThrowsError(try CSV.parse("a,b\nc,\"open\n", file: "t.csv")) { error in
            guard case EvaluationError.malformedRecord("t.csv", _, "column 2", _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try CSV.parse("a,b\"c\n", file: "t.csv")) { error in
            XCTAssertEqual(error as? EvaluationError, .malformedRecord(file: "t.csv", line: 1, field: "column 2", reason: "quote inside an unquoted field"))
        }
        XCTAssertThrowsError(try CSV.parse("a\n\"x\"y\n", file: "t.csv")) { error in
            XCTAssertEqual(error as? EvaluationError, .malformedRecord(file: "t.csv", line: 2, field: "column 1", reason: "unexpected character after closing quote"))
        }
    }

    func testMalformedMMLURowNamesLineAndField() throws {
        let subjects = "subject\tlm_eval_group\ttest\tdev\tval\nanatomy\tstem\t2\t0\t0\n"
        let test = "q1,a,b,c,d,A\n\"q2\nmore\",a,b,c,d,E\n"
        let files = ["mmlu/subjects.tsv": Array(subjects.utf8), "mmlu/test/anatomy_test.csv": Array(test.utf8),
                     "mmlu/dev/anatomy_dev.csv": Array("".utf8)]
        let data = try scratchCopy(files, sums: files.mapValues(Checksum.sha256Hex))
        XCTAssertThrowsError(try MMLU(numFewShot: 0).documents(from: data)) { error in
            XCTAssertEqual(error as? EvaluationError,
                           .malformedRecord(file: "mmlu/test/anatomy_test.csv", line: 2, field: "answer", reason: "'E' is not A–D"))
        }
        XCTAssertThrowsError(try MMLU(numFewShot: 1).documents(from: data)) { error in
            XCTAssertEqual(error as? EvaluationError, .fewShotUnavailable(task: "mmlu_anatomy", requested: 1, available: 0))
        }
    }

    func testTaskLoadingSpeed() throws {
        let data = try DataDirectory.vendored(repositoryRoot: Fixtures.root)
        for name in TaskRegistry.names {
            let start = Date()
            let count = try TaskRegistry.task(named: name, numFewShot: name.hasPrefix("mmlu") ? 5 : 0).documents(from: data).count
            let seconds = Date().timeIntervalSince(start)
            print("\(name): \(count) documents in \(String(format: "%.3f", seconds)) s")
            // Loading (verify, gunzip, parse, render prompts) must stay well under the scoring time.
            XCTAssertLessThan(seconds, 2, name)
        }
    }

    func testUnknownTaskAndUnavailableFewShot() {
        XCTAssertThrowsError(try TaskRegistry.task(named: "hellaswagg")) { error in
            guard case EvaluationError.unknownTask("hellaswagg", let known) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(known.contains("hellaswag"))
        }
        XCTAssertThrowsError(try TaskRegistry.task(named: "piqa", numFewShot: 5)) { error in
            XCTAssertEqual(error as? EvaluationError, .fewShotUnavailable(task: "piqa", requested: 5, available: 0))
        }
    }
}
