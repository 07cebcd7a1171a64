import Foundation
import TestSupport
import XCTest
@testable import Evaluation

/// Every task's prompts against strings rendered by lm-eval 0.4.13's own task code
/// (Tests/Fixtures/evaluation/make_prompt_fixture.py → prompts.json).
final class PromptFormatTests: XCTestCase {
    struct Expected: Decodable {
        struct Pair: Decodable { let context: String, continuation: String }
        let index: Int
        let requests: [Pair]
        let choices: [String]
        let choice_lengths: [Int]
        let choice_utf8_lengths: [Int]
        let gold: Int
    }

    static let fixture: [String: [Expected]] = {
        let url = Fixtures.url("Tests/Fixtures/evaluation/prompts.json")
        let object = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var out: [String: [Expected]] = [:]
        for (key, value) in object where value is [Any] {
            let data = try! JSONSerialization.data(withJSONObject: value)
            out[key] = try! JSONDecoder().decode([Expected].self, from: data)
        }
        return out
    }()

    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    private func check(_ key: String, _ documents: [TaskDocument], file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try XCTUnwrap(Self.fixture[key], "fixture has no \(key)", file: file, line: line)
        for e in expected {
            let d = documents[e.index]
            XCTAssertEqual(d.requests.map(\.context), e.requests.map(\.context), "\(key) #\(e.index) contexts", file: file, line: line)
            XCTAssertEqual(d.requests.map(\.continuation), e.requests.map(\.continuation), "\(key) #\(e.index) continuations", file: file, line: line)
            XCTAssertEqual(d.choices, e.choices, "\(key) #\(e.index) choices", file: file, line: line)
            XCTAssertEqual(d.choices.map(PythonText.length), e.choice_lengths, "\(key) #\(e.index) Python len", file: file, line: line)
            XCTAssertEqual(d.choices.map(\.utf8.count), e.choice_utf8_lengths, file: file, line: line)
            XCTAssertEqual(d.gold, e.gold, "\(key) #\(e.index) gold", file: file, line: line)
        }
    }

    func testCommonsenseTasksMatchLMEval() throws {
        for name in ["arc_easy", "arc_challenge", "openbookqa", "hellaswag", "piqa", "winogrande", "boolq"] {
            let docs = try TaskRegistry.task(named: name).documents(from: data)
            try check(name, docs)
        }
    }

    func testDocumentCountsMatchSources() throws {
        let expected = ["arc_easy": 2376, "arc_challenge": 1172, "openbookqa": 500, "hellaswag": 10042, "piqa": 1838,
                        "winogrande": 1267, "boolq": 3270, "mmlu": 14042]
        for (name, count) in expected {
            XCTAssertEqual(try TaskRegistry.task(named: name).documents(from: data).count, count, name)
        }
    }

    func testMMLUZeroAndFiveShotMatchLMEval() throws {
        for format in [MMLU.Format.letters, .cloze] {
            for shots in [0, 5] {
                let task = MMLU(format: format, numFewShot: shots)
                let docs = try task.documents(from: data)
                for subject in ["abstract_algebra", "high_school_european_history", "world_religions"] {
                    let mine = docs.filter { $0.subtask == task.subtaskName(subject) }
                    try check("\(task.name)/\(subject)/\(shots)", mine)
                }
            }
        }
    }

    func testMMLUFiveShotPromptShapeFromSpec() throws {
        let doc = try MMLU(numFewShot: 5).documents(from: data)[0]
        XCTAssertEqual(PythonText.length(doc.requests[0].context), 993)
        XCTAssertTrue(doc.requests[0].context.hasPrefix("The following are multiple choice questions (with answers) about abstract algebra.\n\n"))
        XCTAssertTrue(doc.requests[0].context.hasSuffix("over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:"))
        XCTAssertEqual(doc.requests[doc.gold].continuation, " B")
    }

    func testHellaSwagCleaningKeepsLMEvalQuirks() {
        XCTAssertEqual(HellaSwag.clean("[step] Earn a bachelor's degree."), " Earn a bachelor's degree.")
        XCTAssertEqual(HellaSwag.clean("x: [header] How to a [title] Obtain b [step] This"), "x: How to a. Obtain b This")
        XCTAssertEqual(HellaSwag.clean("a   b"), "a  b", "one pass of '  ' → ' '")
        XCTAssertEqual(HellaSwag.clean("keep [open\nline] end"), "keep [open\nline] end", "'.' does not cross newlines")
        XCTAssertEqual(PythonText.capitalize("tHE man"), "The man")
    }

    func testMMLUGroupsCoverAllSubjectsOnce() throws {
        let groups = try MMLU(numFewShot: 0).groups(from: data)
        XCTAssertEqual(groups.map(\.subtasks.count), [19, 13, 12, 13, 57])
        XCTAssertEqual(Set(groups.prefix(4).flatMap(\.subtasks)), Set(groups[4].subtasks))
    }
}
