import Foundation
import TestSupport
import XCTest
@testable import Evaluation

final class SubsetAndPerplexityTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)
    static let fixture: [String: Any] = {
        let url = Fixtures.url("Tests/Fixtures/evaluation/metrics.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    func testStratifiedSubsetIsSeededAndIdentified() throws {
        let task = MMLU(numFewShot: 5)
        let docs = try task.documents(from: data)
        let a = try Subset(task: task, perSubtask: 4, seed: 1).select(from: docs)
        let again = try Subset(task: task, perSubtask: 4, seed: 1).select(from: docs)
        let other = try Subset(task: task, perSubtask: 4, seed: 2).select(from: docs)
        XCTAssertEqual(a.map(\.id), again.map(\.id))
        XCTAssertNotEqual(a.map(\.id), other.map(\.id))
        XCTAssertEqual(a.count, 57 * 4)
        XCTAssertEqual(Dictionary(grouping: a, by: \.subtask).values.map(\.count), [Int](repeating: 4, count: 57))
        // File order is kept.
        let position = Dictionary(uniqueKeysWithValues: docs.enumerated().map { ($1.id, $0) })
        XCTAssertEqual(a.map { position[$0.id]! }, a.map { position[$0.id]! }.sorted())
        let s = Subset(task: task, perSubtask: 4, seed: 1)
        XCTAssertEqual(s.canonical, "subset:v1;task=mmlu;version=2;shots=5;per_subtask=4;seed=1")
        XCTAssertEqual(s.hash, String(Checksum.sha256Hex(Array(s.canonical.utf8)).prefix(16)))
        XCTAssertNotEqual(s.hash, Subset(task: MMLU(numFewShot: 0), perSubtask: 4, seed: 1).hash)
    }

    func testSubsetLargerThanStratumIsAnError() throws {
        let task = MMLU(numFewShot: 0)
        XCTAssertThrowsError(try Subset(task: task, perSubtask: 101, seed: 1).select(from: task.documents(from: data))) { error in
            XCTAssertEqual(error as? EvaluationError,
                           .subsetTooLarge(task: "mmlu", stratum: "mmlu_abstract_algebra", requested: 101, available: 100))
        }
        let piqa = try PIQA()
        XCTAssertEqual(try Subset(task: piqa, perSubtask: 1838, seed: 9).select(from: piqa.documents(from: data)).count, 1838)
    }

    func testLimitTakesFirstItemsPerSubtaskAndRejectsTooLarge() throws {
        let mmlu = MMLU(numFewShot: 0)
        let docs = try mmlu.documents(from: data)
        let first = try ItemSelection.first(3).select(from: docs, task: "mmlu")
        XCTAssertEqual(first.count, 57 * 3)
        XCTAssertEqual(first.prefix(4).map(\.id), ["mmlu_abstract_algebra/0", "mmlu_abstract_algebra/1", "mmlu_abstract_algebra/2", "mmlu_anatomy/0"])
        XCTAssertEqual(ItemSelection.first(3).canonical, "limit:first_n;per_subtask=3")
        XCTAssertThrowsError(try ItemSelection.first(101).select(from: docs, task: "mmlu")) { error in
            XCTAssertEqual(error as? EvaluationError,
                           .limitTooLarge(task: "mmlu", stratum: "mmlu_abstract_algebra", requested: 101, available: 100))
            XCTAssertTrue("\(error)".contains("--limit 101"))
        }
        let piqa = try PIQA().documents(from: data)
        XCTAssertEqual(try ItemSelection.first(1838).select(from: piqa, task: "piqa").count, 1838)
        XCTAssertThrowsError(try ItemSelection.first(1839).select(from: piqa, task: "piqa")) { error in
            XCTAssertEqual(error as? EvaluationError, .limitTooLarge(task: "piqa", stratum: "piqa", requested: 1839, available: 1838))
        }
    }

    func testGPTQWikiTextTextAndWindows() throws {
        let ppl = try TokenPerplexity.wikiText2(data, seqlen: 2048)
        let wikitext = Self.fixture["wikitext"] as! [String: Any]
        XCTAssertEqual(ppl.text.utf8.count, wikitext["gptq_bytes"] as! Int)
        XCTAssertEqual(ppl.text.utf8.count, 1_296_370)
        XCTAssertEqual(ppl.windows(tokenCount: 5000), [0..<2048, 2048..<4096], "the tail is dropped")
        // Every window's mean NLL = ln 10 → PPL 10, whatever the window count.
        XCTAssertEqual(ppl.perplexity(windowMeanNLL: [log(10), log(10), log(10)]), 10, accuracy: 1e-12)
        let c4 = try TokenPerplexity.c4Sample(data, seqlen: 16)
        XCTAssertEqual(c4.windows(tokenCount: 16 * 300).count, 256)
        XCTAssertTrue(c4.label.contains("not GPTQ c4"))
    }

    func testLMEvalWikiTextPagesMatchLMEvalDetokenizerAndCounts() throws {
        let docs = try WikiTextDocuments(data)
        let expected = (Self.fixture["wikitext"] as! [String: Any])["pages"] as! [[String: Any]]
        XCTAssertEqual(docs.pages.count, 62)
        XCTAssertEqual(docs.pages.count, expected.count)
        for (page, e) in zip(docs.pages, expected) {
            XCTAssertEqual(Checksum.sha256Hex(Array(page.original.utf8)), e["original_sha256"] as! String)
            XCTAssertEqual(Checksum.sha256Hex(Array(page.detokenized.utf8)), e["detokenized_sha256"] as! String)
            XCTAssertEqual(page.words, e["word_perplexity"] as! Int)
            XCTAssertEqual(page.bytes, e["byte_perplexity"] as! Int)
        }
        XCTAssertEqual(WikiTextDocuments.detokenize("( a , b ) s 'x = = h = = /' 7/"), "(a, b) s'x == h == /'[0-9]/")
        XCTAssertEqual(WikiTextDocuments.wordCount(" a  b\n"), 4, "re.split gives ['', 'a', 'b', '']")
    }

    func testRollingWindowsMatchLMEval() {
        for case let entry as [String: Any] in Self.fixture["rolling"] as! [Any] {
            let count = entry["count"] as! Int, maxLength = entry["max_length"] as! Int
            let windows = (entry["windows"] as! [[String: [Int]]]).map { LogLikelihoodRequest(context: $0["context"]!, continuation: $0["continuation"]!) }
            let mine = WikiTextDocuments.rollingRequests(tokens: Array(100..<(100 + count)), prefixToken: 1, maxLength: maxLength)
            XCTAssertEqual(mine, windows, "count \(count) max \(maxLength)")
            XCTAssertEqual(mine.flatMap(\.continuation), Array(100..<(100 + count)), "each token predicted once")
        }
    }
}
