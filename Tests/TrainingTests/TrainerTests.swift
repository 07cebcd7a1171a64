import Models
import Tensor
import TestSupport
import Training
import XCTest

/// Determinism of the loop: same seed → same bits, checkpoint + resume → the uninterrupted run,
/// per-sample losses independent of batch packing, and a non-finite loss stops the run.
final class TrainerTests: XCTestCase {
    static let loaded = try! ModelLoader.load(Fixtures.stories260K)
    static let stories: [TrainingSequence] = {
        let examples = try! InstructionData.load(Fixtures.url("Tests/Fixtures/training/stories.txt"), format: .text)
        return try! InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: 96,
                                       contextLength: loaded.config.contextLength, source: "stories.txt").sequences
    }()

    static func model(seed: UInt64, lora: LoRAConfig = LoRAConfig(rank: 4, alpha: 8, dropout: 0.1)) -> TrainableLlama {
        var rng = SeededRandom(seed: seed)
        return TrainableLlama(loaded.weights) { site, dense in
            lora.targets.contains(site.projection)
                ? LoRALinear(base: dense, config: lora, name: site.description, random: &rng) as any TrainableLinear : FrozenLinear(dense)
        }
    }

    static let config = TrainingConfig(steps: 6, batchSize: 4, microBatchSize: 2,
                                       schedule: LearningRateSchedule(peak: 2e-3, warmupSteps: 2, totalSteps: 6),
                                       maxGradientNorm: 1, seed: 42)

    static func trainer(_ model: TrainableLlama, config: TrainingConfig = config) throws -> Trainer {
        try Trainer(model: model, groups: Trainer.adamWGroup(model), data: stories, config: config)
    }

    static func values(_ m: TrainableLlama) -> [[Float]] { m.trainableParameters.map { $0.value.array($0.count) } }

    func testResumeFromCheckpointIsBitExact() throws {
        let full = try Self.trainer(Self.model(seed: 1))
        let fullLosses = try full.run()

        let url = try Fixtures.temporaryDirectory().appendingPathComponent("run.ckpt")
        let first = try Self.trainer(Self.model(seed: 1))
        let head = try first.run(stopAfter: 3, checkpoint: url)
        // A fresh process: new model (its own init), new trainer, state only from the file.
        let second = try Self.trainer(Self.model(seed: 99))
        try second.restore(url)
        XCTAssertEqual(second.step, 3)
        let tail = try second.run()
        XCTAssertEqual(head + tail, fullLosses)
        XCTAssertEqual(Self.values(second.model), Self.values(full.model))
        XCTAssertTrue(fullLosses.allSatisfy(\.isFinite))
    }

    func testSameSeedIsBitIdenticalAndSeedMatters() throws {
        let a = try Self.trainer(Self.model(seed: 1)).run(stopAfter: 3)
        let b = try Self.trainer(Self.model(seed: 1)).run(stopAfter: 3)
        XCTAssertEqual(a, b)
        var other = Self.config
        other.seed = 43
        XCTAssertNotEqual(try Self.trainer(Self.model(seed: 1), config: other).run(stopAfter: 3), a)
    }

    func testPerSampleLossDoesNotDependOnBatchComposition() throws {
        let m = Self.model(seed: 1)
        let s = Array(Self.stories.prefix(5))
        let together = try m.loss(TrainingBatch(s))
        let reordered = try m.loss(TrainingBatch([s[3], s[0], s[4], s[2], s[1]]))
        for (i, j) in [(0, 1), (1, 4), (2, 3), (3, 0), (4, 2)] {
            let alone = try m.loss(TrainingBatch([s[i]]))
            XCTAssertEqual(together.sequenceNLL[i], alone.sequenceNLL[0], accuracy: 1e-4 * alone.sequenceNLL[0])
            XCTAssertEqual(together.sequenceNLL[i], reordered.sequenceNLL[j], accuracy: 1e-4 * alone.sequenceNLL[0])
            XCTAssertEqual(together.sequenceTokens[i], s[i].scoredCount)
        }
    }

    func testNonFiniteLossStopsNamingTheStep() throws {
        let m = Self.model(seed: 1)
        let t = try Self.trainer(m)
        _ = try t.trainStep()
        m.trainableParameters[1].value.pointer[0] = .nan
        XCTAssertThrowsError(try t.trainStep()) { e in
            guard case .nonFiniteLoss(2, let loss)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertTrue(loss.isNaN)
            XCTAssertTrue("\(e)".contains("step 2"), "\(e)")
        }
    }

    func testDamagedOrForeignCheckpointIsRejected() throws {
        let dir = try Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("a.ckpt")
        let t = try Self.trainer(Self.model(seed: 1))
        _ = try t.run(stopAfter: 1, checkpoint: url)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0x40
        let bad = dir.appendingPathComponent("bad.ckpt")
        try bytes.write(to: bad)
        XCTAssertThrowsError(try Self.trainer(Self.model(seed: 1)).restore(bad)) { e in
            guard case .checkpointCorrupt(_, let why)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertTrue(why.contains("checksum"), why)
        }
        let wider = Self.model(seed: 1, lora: LoRAConfig(rank: 8, alpha: 8))
        XCTAssertThrowsError(try Self.trainer(wider).restore(url)) { e in
            guard case .checkpointMismatch? = e as? TrainingError else { return XCTFail("\(e)") }
        }
        // Same parameters, another run: a changed learning rate, or other data.
        var faster = Self.config
        faster.schedule = LearningRateSchedule(peak: 4e-3, warmupSteps: 2, totalSteps: 6)
        let m = Self.model(seed: 1)
        let otherData = try Trainer(model: m, groups: Trainer.adamWGroup(m), data: Array(Self.stories.dropFirst()), config: Self.config)
        for foreign in [try Self.trainer(Self.model(seed: 1), config: faster), otherData] {
            XCTAssertThrowsError(try foreign.restore(url)) { e in
                guard case .checkpointMismatch(_, let why)? = e as? TrainingError else { return XCTFail("\(e)") }
                XCTAssertTrue(why.contains("different run"), why)
            }
            XCTAssertEqual(foreign.step, 0)
        }
        // Only the checkpoints themselves are left: no temporary file from any write.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
    }

    func testScheduleWarmsUpThenDecaysToTheFloor() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, minimumRatio: 0.1)
        XCTAssertEqual(s.rate(at: 5), 0.5, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 60), 0.55, accuracy: 1e-6)
        XCTAssertEqual(s.rate(at: 110), 0.1, accuracy: 1e-6)
    }

    func testTernarySignSGDMovesOnlyTheLargestGradientsAndStaysTernary() {
        let p = Parameter(name: "t", rows: 1, cols: 100)
        for i in 0..<100 {
            p.value.pointer[i] = Float(i % 3 - 1)
            p.gradient.pointer[i] = Float(i) - 49.5
        }
        let opt = TernarySignSGD(totalSteps: 10)
        XCTAssertEqual(opt.quantile(at: 1), 0.95, accuracy: 1e-9)
        XCTAssertEqual(opt.quantile(at: 10), 0.9999, accuracy: 1e-9)
        opt.update([p], learningRate: 0, step: 1)
        // |g| above the 95th percentile (≈ 47.6): indices 0, 1, 98, 99 move one step against their
        // gradient (−1 → 0, 0 → 1, 1 → 0, 0 → −1).
        let v = p.value.array(100)
        XCTAssertEqual([v[0], v[1], v[98], v[99]], [0, 1, 0, -1])
        for i in 2..<98 { XCTAssertEqual(v[i], Float(i % 3 - 1)) }
    }

    func testAdamWFirstStepMovesByTheLearningRate() {
        let p = Parameter(name: "w", rows: 1, cols: 20)
        for i in 0..<20 { p.value.pointer[i] = 1; p.gradient.pointer[i] = i % 2 == 0 ? 0.3 : -2 }
        AdamW(weightDecay: 0.1).update([p], learningRate: 0.01, step: 1)
        // Bias correction makes the first step ±lr; decay first shrinks w by lr·λ.
        for i in 0..<20 { XCTAssertEqual(p.value.pointer[i], 0.999 - (i % 2 == 0 ? 0.01 : -0.01), accuracy: 1e-6) }
    }
}
