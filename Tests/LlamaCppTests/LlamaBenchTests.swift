import Foundation
import LlamaCpp
import TestSupport
import XCTest

/// `LlamaBench` against llama-bench itself: its real JSON output (Tests/Fixtures/llama-bench, made
/// by make-fixture.sh there), and, when `$QAFT_LLAMA_BENCH` names a build (the Makefile sets it),
/// a real run.
final class LlamaBenchTests: XCTestCase {
    let fixture = Fixtures.url("Tests/Fixtures/llama-bench/smollm2-q4_1.json")

    func testPicksEachTestOfARealRunByPromptGenerationAndDepth() throws {
        let data = try Data(contentsOf: fixture)
        // The fixture's four lines: (test, avg_ts, stddev_ts).
        let expected: [(LlamaBench.Test, Double, Double)] = [
            (.prefill(64), 6.005641, 0.081936), (LlamaBench.Test(prompt: 0, generated: 8, depth: 0), 1.455907, 0.723152),
            (LlamaBench.Test(prompt: 64, generated: 0, depth: 64), 6.987152, 2.511292), (.decode(8, after: 64), 0.728399, 0.266214),
        ]
        for (test, rate, deviation) in expected {
            let r = try LlamaBenchResult.parse(data, test: test)
            XCTAssertEqual(r.tokensPerSecond, rate, "\(test)")
            XCTAssertEqual(r.standardDeviation, deviation, "\(test)")
            XCTAssertEqual(r.modelType, "llama 256M Q4_1")
            XCTAssertEqual(r.build, "unknown (build 0)")
        }
    }

    func testRefusesOutputWithoutTheTestOrARate() throws {
        let data = try Data(contentsOf: fixture)
        XCTAssertThrowsError(try LlamaBenchResult.parse(data, test: .decode(16, after: 64))) { e in
            XCTAssertEqual("\(e)", "llama-bench output has no test with n_prompt 0, n_gen 16, n_depth 64 (4 test(s))")
        }
        XCTAssertThrowsError(try LlamaBenchResult.parse(Data("| model | size |".utf8), test: .prefill(64))) { e in
            XCTAssertTrue("\(e)".hasPrefix("llama-bench output is not a JSON array of tests: | model | size |"), "\(e)")
        }
        let zero = Data(#"[{"n_prompt": 64, "n_gen": 0, "n_depth": 0, "avg_ts": 0}]"#.utf8)
        XCTAssertThrowsError(try LlamaBenchResult.parse(zero, test: .prefill(64))) { e in
            XCTAssertEqual("\(e)", "llama-bench test line has no positive avg_ts: 0")
        }
    }

    func testAsksForExactlyOneTest() {
        let bench = LlamaBench(executable: URL(fileURLWithPath: "/x/llama-bench"), threads: 2, repetitions: 3)
        XCTAssertEqual(bench.arguments(.decode(8, after: 64), model: URL(fileURLWithPath: "/m.gguf")),
                       ["-m", "/m.gguf", "-p", "0", "-n", "8", "-d", "64", "-t", "2", "-r", "3", "-o", "json"])
        XCTAssertEqual(bench.arguments(.prefill(64), model: URL(fileURLWithPath: "/m.gguf")).prefix(8),
                       ["-m", "/m.gguf", "-p", "64", "-n", "0", "-d", "0"])
    }

    func testAFailedRunNamesTheCommandAndStatus() throws {
        let model = try Fixtures.smolLM2()
        XCTAssertThrowsError(try LlamaBench(executable: URL(fileURLWithPath: "/bin/false")).run(.prefill(8), model: model)) { e in
            XCTAssertTrue("\(e)".contains("exited with status 1"), "\(e)")
        }
        XCTAssertThrowsError(try LlamaBench(executable: URL(fileURLWithPath: "/bin/false")).run(.prefill(8), model: URL(fileURLWithPath: "/no/model.gguf"))) { e in
            XCTAssertEqual("\(e)", "llama-bench: /no/model.gguf does not exist")
        }
    }

    /// A real llama-bench run of SmolLM2 (skipped without a build: CI builds llama.cpp only in `make bench`).
    func testRealLlamaBenchPrefillAndDecode() throws {
        guard let path = ProcessInfo.processInfo.environment["QAFT_LLAMA_BENCH"], FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("no llama-bench: QAFT_LLAMA_BENCH does not name an executable (`make llama-cpp` builds it; the Makefile sets it)")
        }
        let bench = LlamaBench(executable: URL(fileURLWithPath: path), threads: 2, repetitions: 1)
        let model = try Fixtures.smolLM2()
        for test in [LlamaBench.Test.prefill(16), .decode(4, after: 16)] {
            let r = try bench.run(test, model: model)
            XCTAssertGreaterThan(r.tokensPerSecond, 0)
            XCTAssertEqual(r.modelType, "llama 256M Q4_1")
        }
    }
}
