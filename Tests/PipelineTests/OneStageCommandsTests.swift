import Experiments
import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// `qaft finetune` and `qaft quantize` as one-stage plans, through the real binary on
/// stories260K: a rerun computes nothing and prints the same, the commands share keys (and so
/// cache entries) with a manifest row of the same settings, the quantized output is the row's
/// packed model, and bad flags are refused by name.
final class OneStageCommandsTests: XCTestCase {
    static let model = "Tests/Fixtures/stories260K/stories260K.bin"
    static let tokenizer = "Tests/Fixtures/stories260K/tok512.bin"
    static let text = "Experiments/Data/tinystories/tinystories_valid_excerpt.txt"
    static let calibration = "Experiments/Data/c4/c4_demo.jsonl"
    static let seed: UInt64 = 42

    /// The TinyStories excerpt (one paragraph) cut into 40-word examples, so there are some to hold out.
    static func trainingText(in dir: URL) throws -> URL {
        let words = try String(contentsOf: Fixtures.url(text), encoding: .utf8).split(separator: " ")
        let url = dir.appendingPathComponent("stories.txt")
        try stride(from: 0, to: words.count, by: 40).map { words[$0..<min($0 + 40, words.count)].joined(separator: " ") }
            .joined(separator: "\n\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The fine-tune both the command line and the manifest row below describe.
    static func finetuneArguments(data: URL, cache: URL, steps: Int = 4) -> [String] {
        ["finetune", "-m", model, "--tokenizer", tokenizer, "--data", data.path, "--format", "text", "--max-length", "64",
         "--steps", String(steps), "--batch-size", "2", "--micro-batch-size", "1", "--lr", "1e-3", "--held-out", "2", "--rank", "2",
         "--alpha", "4", "--calibration-windows", "4", "--calibration-length", "64", "--seed", String(seed), "--cache", cache.path]
    }

    static func finetuneRow(data: URL) -> RowSpec {
        RowSpec("LoRA", fineTuning: FineTuningSpec("lora", data: data.path, parameters: [
            "format": "text", "sequenceLength": 64, "steps": 4, "microBatch": 1, "accumulation": 2, "learningRate": 1e-3,
            "heldOut": 2, "rank": 2, "alpha": 4, "calibrationWindows": 4, "calibrationLength": 64, "precision": "fp32",
        ], calibration: calibration))
    }

    static let quantizeRow = RowSpec("GPTQ w4", quantization: QuantizationSpec("gptq", bits: 4, groupSize: 4, parameters: [
        "extra": ["perChannel": 1], "calibrationWindows": 4, "calibrationLength": 64,
    ], calibration: calibration))

    /// A one-row table on stories260K: the row's model stage as a manifest plans it (with an
    /// evaluation column, which a manifest needs and the tests leave out of the returned plan).
    static func manifestStage(_ row: RowSpec, _ step: String) throws -> (plan: Plan, key: StageKey) {
        let m = Manifest(id: "onestage", title: "one row", profile: .tiny, seed: seed, model: .file(model, tokenizer: tokenizer),
                         rows: [row], evaluations: [Base.settings(.tiny).perplexity("ppl")])
        let plan = try Planner(root: Fixtures.root).plan([m])
        let key = try XCTUnwrap(plan.stages.first { $0.label == "onestage/\(row.label)/\(step)" }).key
        return (plan.closure(of: key), key)
    }

    func testFinetuneRerunComputesNothingAndSharesTheManifestRowsStage() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache"), out = dir.appendingPathComponent("tuned.gguf")
        let data = try Self.trainingText(in: dir)
        let args = Self.finetuneArguments(data: data, cache: cache) + ["-o", out.path]
        let first = dir.appendingPathComponent("first.out"), second = dir.appendingPathComponent("second.out")
        XCTAssertEqual(try QaftProcess.run(args, log: dir.appendingPathComponent("first.log"), stdout: first), 0,
                       QaftProcess.text(dir.appendingPathComponent("first.log")))
        let tuned = try Data(contentsOf: out)
        let c = try Cache(root: cache)
        XCTAssertEqual(try c.computations().count, 2, "load-model and finetune.lora")

        XCTAssertEqual(try QaftProcess.run(args, log: dir.appendingPathComponent("second.log"), stdout: second), 0)
        XCTAssertEqual(try c.computations().count, 2, "the rerun computed something")
        XCTAssert(QaftProcess.text(dir.appendingPathComponent("second.log")).contains("0 stages computed, 2 reused"))
        XCTAssertEqual(QaftProcess.text(second), QaftProcess.text(first))
        for metric in ["trainable parameters: ", "final loss", "held-out loss before: ", "held-out loss after: ", "tokens/s: "] {
            XCTAssert(QaftProcess.text(first).contains(metric), "\(metric) missing from:\n\(QaftProcess.text(first))")
        }
        XCTAssertEqual(try Data(contentsOf: out), tuned)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }, [])

        // The same row in a manifest has the command's key, and finds it computed.
        let row = Self.finetuneRow(data: data)
        let (plan, key) = try Self.manifestStage(row, "finetune")
        let commandKey = try Planner(root: Fixtures.root).plan(model: .file(Self.model, tokenizer: Self.tokenizer), row: row,
                                                               seed: Self.seed, name: "qaft finetune").key
        XCTAssertEqual(commandKey, key)
        let summary = try Runner(cache: c).run(plan)
        XCTAssertEqual(summary.computed, [])
        XCTAssert(summary.reused.contains(key))

        // The written model is a float GGUF that loads like any other.
        XCTAssertEqual(try QaftProcess.run(["perplexity", "-m", out.path, "--tokenizer", Self.tokenizer, "--window", "64", Self.text],
                                           log: dir.appendingPathComponent("ppl.log")), 0, QaftProcess.text(dir.appendingPathComponent("ppl.log")))
    }

    /// A `qaft finetune` killed after its stage's first checkpoint (written after 30 s of training)
    /// resumes from it when rerun with the same arguments. The step count is sized from a short
    /// run's speed to about 45 s of training.
    func testKilledFinetuneResumesOnRerun() throws {
        let dir = try Fixtures.temporaryDirectory()
        let data = try Self.trainingText(in: dir), cache = dir.appendingPathComponent("cache")
        let probe = dir.appendingPathComponent("probe.out")
        XCTAssertEqual(try QaftProcess.run(Self.finetuneArguments(data: data, cache: dir.appendingPathComponent("probe"), steps: 20) + ["--quiet"],
                                           log: dir.appendingPathComponent("probe.log"), stdout: probe), 0)
        let rate = try XCTUnwrap(QaftProcess.text(probe).split(separator: "\n").first { $0.hasPrefix("tokens/s: ") }
            .flatMap { Double($0.dropFirst("tokens/s: ".count)) })
        // Checkpoints after every step (`QAFT_CHECKPOINT_SECONDS=0`), so a few seconds of training
        // are enough to be killed between two of them.
        let steps = max(20, Int(4 * rate / (2 * 64)))
        let every = ["QAFT_CHECKPOINT_SECONDS": "0"]
        let reference = dir.appendingPathComponent("reference.gguf"), resumedModel = dir.appendingPathComponent("resumed.gguf")
        XCTAssertEqual(try QaftProcess.run(Self.finetuneArguments(data: data, cache: dir.appendingPathComponent("reference"), steps: steps)
                                           + ["--quiet", "-o", reference.path], log: dir.appendingPathComponent("reference.log")), 0)
        let args = Self.finetuneArguments(data: data, cache: cache, steps: steps)

        let killed = try QaftProcess.start(args, log: dir.appendingPathComponent("killed.log"), environment: every)
        let checkpoints = cache.appendingPathComponent("checkpoints")
        func checkpointed() -> Bool {
            let keys = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
            return keys.contains { FileManager.default.fileExists(atPath: checkpoints.appendingPathComponent("\($0)/trainer.ckpt").path) }
        }
        while killed.isRunning, !checkpointed() { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssert(killed.isRunning, "\(steps) steps finished before the first checkpoint:\n\(QaftProcess.text(dir.appendingPathComponent("killed.log")))")
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()

        let log = dir.appendingPathComponent("resumed.log")
        XCTAssertEqual(try QaftProcess.run(args + ["-o", resumedModel.path], log: log, environment: every), 0, QaftProcess.text(log))
        XCTAssert(QaftProcess.text(log).contains("resumed from a checkpoint after"), QaftProcess.text(log))
        let resumed = try Cache(root: cache).computations().filter { $0.resumedFrom > 0 }
        XCTAssertEqual(resumed.count, 1)
        // Resuming is exact: the model is the uninterrupted run's, bit for bit.
        XCTAssertEqual(try Data(contentsOf: resumedModel), try Data(contentsOf: reference))
        print("finetune kill test: \(steps) steps, resumed from step \(resumed.first?.resumedFrom ?? 0)")
    }

    func testQuantizeWritesThePipelineRowsPackedModel() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cachePath = dir.appendingPathComponent("cache"), out = dir.appendingPathComponent("w4.gguf")
        let cache = try Cache(root: cachePath)
        let (plan, key) = try Self.manifestStage(Self.quantizeRow, "quantize")
        try Runner(cache: cache).run(plan)
        let record = try XCTUnwrap(try cache.result(key))

        let log = dir.appendingPathComponent("quantize.log")
        XCTAssertEqual(try QaftProcess.run(["quantize", "-m", Self.model, "--tokenizer", Self.tokenizer, "--method", "gptq", "--bits", "4",
                                            "--group", "4", "--per-channel", "--calibration-windows", "4", "--calibration-length", "64",
                                            "--seed", String(Self.seed), "--cache", cachePath.path, "-o", out.path], log: log), 0, QaftProcess.text(log))
        XCTAssert(QaftProcess.text(log).contains("0 stages computed, 2 reused"), QaftProcess.text(log))
        XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: try XCTUnwrap(try ModelArtifact.baseFile(record))))

        // The packed output computes the row's model: its perplexity is the float artifact's.
        func perplexity(_ model: String) throws -> Double {
            let log = dir.appendingPathComponent("ppl-\((model as NSString).lastPathComponent).log")
            XCTAssertEqual(try QaftProcess.run(["perplexity", "-m", model, "--tokenizer", Self.tokenizer, "--window", "64", "--quiet", Self.text],
                                               log: log), 0, QaftProcess.text(log))
            let words = QaftProcess.text(log).split(separator: " ")
            return try XCTUnwrap(words.firstIndex(of: "perplexity").flatMap { Double(words[$0 + 1]) }, QaftProcess.text(log))
        }
        let packed = try perplexity(out.path), dense = try perplexity(try ModelArtifact.modelFile(record).path)
        XCTAssertEqual(packed, dense, accuracy: 1e-3 * dense)
        print(String(format: "stories260K GPTQ w4 per-channel: perplexity %.4f packed, %.4f dense", packed, dense))
    }

    func testBadFlagsAreRefusedByName() throws {
        let dir = try Fixtures.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache"), data = try Self.trainingText(in: dir)
        let quantize = ["quantize", "-m", Self.model, "--tokenizer", Self.tokenizer, "--cache", cache.path, "-o", dir.appendingPathComponent("q.gguf").path]
        let cases: [([String], String)] = [
            (Self.finetuneArguments(data: data, cache: cache) + ["--batch-size", "3", "--micro-batch-size", "2"], "--batch-size 3"),
            (Self.finetuneArguments(data: data, cache: cache) + ["--warmup", "2"], "--warmup 2"),
            (Self.finetuneArguments(data: data, cache: cache) + ["--method", "gptq"], "--method"),
            (quantize + ["--group", "60"], "--group 60: does not divide the input width"),
            (quantize + ["--method", "rtn", "--act-order", "--group", "4"], "--act-order"),
            (quantize + ["--method", "rtn", "--search", "lp", "--group", "4"], "--search lp"),
            (quantize + ["--method", "lora", "--group", "4"], "--method lora: its quantize stage stored no packed whole-model quantization"),
        ]
        for (i, (args, expected)) in cases.enumerated() {
            let log = dir.appendingPathComponent("case\(i).log")
            XCTAssertNotEqual(try QaftProcess.run(args, log: log), 0, args.joined(separator: " "))
            XCTAssert(QaftProcess.text(log).contains(expected), "expected \(expected) in:\n\(QaftProcess.text(log))")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("q.gguf").path))
    }
}
