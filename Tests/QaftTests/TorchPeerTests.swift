import Foundation
import Tensor
import TestSupport
import XCTest
@testable import qaft

/// The PyTorch peer's result line as `qaft bench` reads it, and the errors a wrong line gives.
final class TorchPeerTests: XCTestCase {
    let script = "Experiments/Bench/torch_peers.py"
    let line = #"{"workload": "lora", "precision": "bf16", "batch": 4, "length": 256, "steps": 3, "warmup": 1, "threads": 2, "seconds": [3.1, 3.0, 3.2], "tokens_per_second": 333.5, "peak_rss_bytes": 3300000000, "load_peak_rss_bytes": 1650966528, "workload_peak_rss_bytes": null, "weights_checked": 20, "torch": "2.15.0+cu132", "transformers": "5.25.0", "peft": "0.21.2", "losses": [15.2, 15.1]}"#

    func testParsesTheResultLineAfterOtherOutput() throws {
        let m = try TorchPeer.parse("loading…\n\(line)\n\n", script: script)
        XCTAssertEqual(m, PeerMeasurement(workload: .lora, precision: .bf16, batch: 4, length: 256, tokensPerSecond: 333.5,
                                          peakRssBytes: 3_300_000_000, loadPeakRssBytes: 1_650_966_528, workloadPeakRssBytes: nil,
                                          torch: "2.15.0+cu132", transformers: "5.25.0", peft: "0.21.2"))
        XCTAssertEqual(m.versions, "torch 2.15.0+cu132, transformers 5.25.0, peft 0.21.2")
    }

    func testAMissingFieldIsNamedWithScriptAndLine() {
        let broken = line.replacingOccurrences(of: #""peak_rss_bytes": 3300000000, "#, with: "")
        assertFailure("x\n\(broken)", contains: ["\(script), output line 2", "field peak_rss_bytes missing"])
    }

    func testAWrongTypeOrValueIsNamed() {
        assertFailure(line.replacingOccurrences(of: #""precision": "bf16""#, with: #""precision": "fp16""#),
                      contains: ["output line 1", "field precision"])
        assertFailure(line.replacingOccurrences(of: "333.5", with: "0"), contains: ["tokens_per_second 0.0 is not a positive number"])
        assertFailure(line.replacingOccurrences(of: #""torch": "2.15.0+cu132""#, with: #""torch": 2"#), contains: ["field torch"])
    }

    func testTracebackOrSilenceIsNotAResult() {
        assertFailure("Traceback (most recent call last):\nValueError: boom", contains: ["output line 2 `ValueError: boom`", "not a JSON object"])
        assertFailure("\n \n", contains: ["\(script) printed no result line"])
    }

    func testAMissingScriptOrANonGGUFModelMakesThePeersUnavailable() {
        XCTAssertEqual(TorchPeer.unavailable(model: "m.gguf", script: URL(fileURLWithPath: "/nonexistent/torch_peers.py")),
                       "/nonexistent/torch_peers.py does not exist")
        XCTAssertEqual(TorchPeer.unavailable(model: "Tests/Fixtures/stories260K/stories260K.bin", script: Fixtures.url(script)),
                       "the peers load GGUF files only, and the model is Tests/Fixtures/stories260K/stories260K.bin")
    }

    /// The whole path — tokens handed over, the script run, its line parsed — on 1×8 tokens, where
    /// this machine has the peers (the bench prints "skipped: …" elsewhere; so does this test).
    func testMeasuresForwardWithTheRealScript() throws {
        let script = Fixtures.url(self.script)
        let model = try Fixtures.smolLM2().path
        if let why = TorchPeer.unavailable(model: model, script: script) { throw XCTSkip("PyTorch peers unavailable: \(why)") }
        let m = try TorchPeer.measure(workload: .forward, precision: .fp32, model: model,
                                      tokens: [[1, 2, 3, 4, 5, 6, 7, 8]], steps: 1, warmup: 1, script: script)
        XCTAssertEqual([m.batch, m.length], [1, 8])
        XCTAssertGreaterThan(m.tokensPerSecond, 0)
        XCTAssertGreaterThanOrEqual(m.peakRssBytes, m.loadPeakRssBytes)
        // The timed part's peak excludes loading's transient but holds the resident fp32 model (540 MB).
        if let workload = m.workloadPeakRssBytes {
            XCTAssertLessThanOrEqual(workload, m.peakRssBytes)
            XCTAssertGreaterThan(workload, 540_000_000)
        }
    }

    private func assertFailure(_ output: String, contains parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try TorchPeer.parse(output, script: script), line: line) { error in
            let text = "\(error)"
            for part in parts { XCTAssertTrue(text.contains(part), "\(text) lacks \(part)", line: line) }
        }
    }
}
