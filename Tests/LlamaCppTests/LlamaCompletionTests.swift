import Foundation
@testable import LlamaCpp
import TestSupport
import XCTest

/// `LlamaCompletion` against llama-completion's real log (Tests/Fixtures/llama-bench, made by
/// make-fixture.sh there); the real run with an adapter is in PipelineTests' LlamaCppSpeedTests.
final class LlamaCompletionTests: XCTestCase {
    func testReadsThePrefillAndDecodeTimingOfARealRun() throws {
        let log = try String(contentsOf: Fixtures.url("Tests/Fixtures/llama-bench/llama-completion-lora.log"), encoding: .utf8)
        let t = try LlamaCompletion.Timing.parse(log)
        XCTAssertEqual(t, LlamaCompletion.Timing(promptTokens: 15, promptMilliseconds: 51.21, decodeSteps: 15, decodeMilliseconds: 128.60))
        // llama.cpp's own rates on those lines: 292.91 and 116.64 tokens per second.
        XCTAssertEqual(t.prefillTokensPerSecond, 292.91, accuracy: 0.01)
        XCTAssertEqual(t.decodeTokensPerSecond, 116.64, accuracy: 0.01)
    }

    func testRefusesALogWithoutTimings() throws {
        let log = try String(contentsOf: Fixtures.url("Tests/Fixtures/llama-bench/llama-completion-lora.log"), encoding: .utf8)
        let noDecode = log.split(separator: "\n").filter { !$0.contains(" eval time") || $0.contains("prompt eval") }.joined(separator: "\n")
        XCTAssertThrowsError(try LlamaCompletion.Timing.parse(noDecode)) { e in
            XCTAssertTrue("\(e)".hasPrefix("llama-completion's log has no positive timing line matching [^t] eval time"), "\(e)")
        }
        XCTAssertThrowsError(try LlamaCompletion.Timing.parse("")) { e in
            XCTAssertTrue("\(e)".hasPrefix("llama-completion's log has no positive timing line matching prompt eval time"), "\(e)")
        }
    }

    func testTimesTheAskedStepsWithTheAdapterGreedily() {
        let c = LlamaCompletion(executable: URL(fileURLWithPath: "/x/llama-completion"), threads: 2, repetitions: 3)
        XCTAssertEqual(c.arguments(model: URL(fileURLWithPath: "/m.gguf"), adapter: URL(fileURLWithPath: "/m.lora.gguf"), prompt: "Hi", steps: 8),
                       ["-m", "/m.gguf", "--lora", "/m.lora.gguf", "-p", "Hi", "-n", "9", "--ignore-eos", "--temp", "0",
                        "-t", "2", "-no-cnv", "--perf", "--simple-io"])
    }

    func testAFailedRunNamesTheCommandAndStatus() throws {
        let model = try Fixtures.smolLM2()
        let c = LlamaCompletion(executable: URL(fileURLWithPath: "/bin/false"), repetitions: 1)
        XCTAssertThrowsError(try c.run(model: model, adapter: model, prompt: "Hi", promptTokens: 1, steps: 1)) { e in
            XCTAssertTrue("\(e)".contains("exited with status 1"), "\(e)")
        }
        XCTAssertThrowsError(try c.run(model: model, adapter: URL(fileURLWithPath: "/no/a.gguf"), prompt: "Hi", promptTokens: 1, steps: 1)) { e in
            XCTAssertEqual("\(e)", "llama-completion: /no/a.gguf does not exist")
        }
    }
}
