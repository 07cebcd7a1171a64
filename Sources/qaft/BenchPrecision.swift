import Evaluation
import Foundation
import Methods
import Models
import Tensor
import Training

/// One measured workload: its throughput and the resident-memory peak while it ran.
struct WorkloadRate {
    var tokensPerSecond: Double
    var peakBytes: Int
}

extension Bench {
    /// The products of one SmolLM2-shaped training step at 4×256 tokens, by name.
    static let precisionShapes: [(m: Int, n: Int, k: Int, what: String)] = [
        (1024, 576, 576, "q/o 1024×576·576"), (1024, 192, 576, "k/v 1024×576·192"),
        (1024, 1536, 576, "gate/up 1024×576·1536"), (1024, 576, 1536, "down 1024×1536·576"),
        (1024, 49152, 576, "head 1024×576·49152"), (256, 256, 64, "attention 256×64·256"),
        (1024, 16, 576, "LoRA A 1024×576·16"), (576, 576, 1024, "weight grad 576×1024·576"),
    ]

    /// oneDNN bf16 GEMM (operands rounded per call) against OpenBLAS sgemm at the model's shapes:
    /// the ceiling of what bf16 can gain. Products below `BF16.minimumProduct` stay sgemm.
    func bf16GEMMSection() {
        print("\n## bf16 GEMM ceiling: oneDNN bf16×bf16→fp32 vs OpenBLAS sgemm (OpenBLAS/oneDNN threads \(BLAS.threads))")
        if let reason = BF16.unavailableReason { return print("  skipped: \(reason)") }
        for s in Self.precisionShapes {
            let a = [Float](repeating: 0.01, count: s.m * s.k), b = [Float](repeating: 0.02, count: s.n * s.k)
            var c = [Float](repeating: 0, count: s.m * s.n)
            let fp32 = median { BLAS.gemm(transB: true, m: s.m, n: s.n, k: s.k, a: a, lda: s.k, b: b, ldb: s.k, c: &c, ldc: s.n) }
            let bf16 = a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    median {
                        BF16.gemm(transB: true, m: s.m, n: s.n, k: s.k, a: .float(ap.baseAddress!, ld: s.k),
                                  b: .float(bp.baseAddress!, ld: s.k), c: &c, ldc: s.n)
                    }
                }
            }
            let flops = 2 * Double(s.m * s.n * s.k) / 1e9
            print(String(format: "  %-26@ sgemm %6.1f  bf16 %6.1f GFLOP/s  %4.2f×%@", s.what as NSString, flops / fp32, flops / bf16,
                         fp32 / bf16, (s.m * s.n * s.k < BF16.minimumProduct ? "  (below the bf16 threshold)" : "") as NSString))
        }
    }

    /// Forward, LoRA r16 step and L4Q step in fp32 and bf16, alternating rounds (fp32, bf16, fp32,
    /// …) so drift in the machine's load hits both alike; medians of `repeats` rounds. A peer (PyTorch)
    /// runner plugs in beside these with the same `WorkloadRate` per workload.
    func precisionSection(_ weights: LlamaWeights) throws {
        print("\n## precision: fp32 vs bf16 (4×256 tokens, \(repeats) alternating rounds, medians)")
        if let reason = ComputePrecision.bf16Unavailable { print("  bf16 falls back to fp32 here: \(reason)") }
        let workloads: [(String, (ComputePrecision) throws -> WorkloadRate)] = [
            ("forward, all logits", { try forwardRate(weights, $0) }),
            ("LoRA r16 step (7 projections)", { try stepRate(weights, method: "lora", options: MethodOptions(rank: 16, alpha: 32), $0) }),
            ("L4Q 4-bit g64 r16 step", { try stepRate(weights, method: "l4q", options: MethodOptions(bits: 4, groupSize: 64, rank: 16, alpha: 32), $0) }),
        ]
        for (name, measure) in workloads {
            var rates: [ComputePrecision: [WorkloadRate]] = [:]
            for _ in 0..<repeats {
                for p in ComputePrecision.allCases { rates[p, default: []].append(try measure(p)) }
            }
            func med(_ p: ComputePrecision) -> WorkloadRate {
                let r = rates[p]!
                return WorkloadRate(tokensPerSecond: r.map(\.tokensPerSecond).sorted()[r.count / 2], peakBytes: r.map(\.peakBytes).max()!)
            }
            let fp32 = med(.fp32), bf16 = med(.bf16)
            print(String(format: "  %-30@ fp32 %7.1f tokens/s (peak %.2f GB)   bf16 %7.1f tokens/s (peak %.2f GB)   %4.2f×",
                         name as NSString, fp32.tokensPerSecond, Double(fp32.peakBytes) / 1e9, bf16.tokensPerSecond,
                         Double(bf16.peakBytes) / 1e9, bf16.tokensPerSecond / fp32.tokensPerSecond))
        }
    }

    /// Wall time of one call of `body`.
    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// MMLU 5-shot scoring of the evaluation section's questions with one worker per core, in fp32
    /// and in bf16: the speed ratio and how many questions get the same prediction (acc's argmax).
    func mmluPrecisionLine(_ loaded: LoadedModel, questions: Int = 256) throws {
        print("\n## MMLU 5-shot scoring, fp32 vs bf16 (\(questions) questions, prefix reuse, one worker per core)")
        if let reason = ComputePrecision.bf16Unavailable { return print("  skipped: \(reason)") }
        let sample = try mmluSample(questions: questions)
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: loaded.tokenizer.addsBOSByDefault))
        var runs: [ComputePrecision: (seconds: Double, items: [ItemRecord])] = [:]
        for p in ComputePrecision.allCases {
            let workers = ModelScorer.workers(model: Llama(loaded.weights))
            runs[p] = try ComputePrecision.with(p) {
                var items: [ItemRecord] = []
                let t = try seconds { items = try evaluator.score(sample, scorers: workers) }
                return (t, items)
            }
        }
        let fp32 = runs[.fp32]!, bf16 = runs[.bf16]!
        let same = zip(fp32.items, bf16.items).filter { $0.prediction == $1.prediction }.count
        let accuracy = { (r: [ItemRecord]) in Double(r.filter(\.correct).count) / Double(r.count) }
        print(String(format: "  fp32 %.1fs, bf16 %.1fs: bf16 %.2f× fp32; same prediction on %d of %d (%.1f%%); acc fp32 %.3f bf16 %.3f",
                     fp32.seconds, bf16.seconds, fp32.seconds / bf16.seconds, same, sample.count,
                     100 * Double(same) / Double(sample.count), accuracy(fp32.items), accuracy(bf16.items)))
    }

    /// Four random 256-token sequences of the model's vocabulary (seeded).
    private func benchSequences(_ c: LlamaConfig) -> [[Int]] {
        var rng = SeededRandom(seed: 1)
        return (0..<4).map { _ in (0..<256).map { _ in Int(rng.next() % UInt64(c.vocabSize)) } }
    }

    /// One forward of 4×256 tokens with all logits, on a fresh model (so bf16 weight copies are
    /// built in the warm-up call, as a run builds them once).
    func forwardRate(_ weights: LlamaWeights, _ precision: ComputePrecision) throws -> WorkloadRate {
        let model = Llama(weights), batch = TokenBatch(sequences: benchSequences(weights.config))
        return try ComputePrecision.with(precision) {
            _ = try model.forward(batch, logits: .all)
            ResidentMemory.resetPeak()
            let t = try seconds { _ = try model.forward(batch, logits: .all) }
            return WorkloadRate(tokensPerSecond: 1024 / t, peakBytes: ResidentMemory.peakBytes())
        }
    }

    /// One optimizer step of a registered method at 4×256 tokens (batch 4, one micro-batch).
    func stepRate(_ weights: LlamaWeights, method name: String, options: MethodOptions,
                  _ precision: ComputePrecision) throws -> WorkloadRate {
        let method = try MethodRegistry.make(name, options: options)
        let model = try method.prepare(MethodContext(weights: weights, calibration: [], seed: 1))
        let data = benchSequences(weights.config).map { TrainingSequence(tokens: $0, responseStart: 1) }
        let trainer = try Trainer(model: model, groups: method.parameterGroups(model), data: data, config: TrainingConfig(
            steps: 2, batchSize: 4, microBatchSize: 4,
            schedule: LearningRateSchedule(peak: 1e-4, warmupSteps: 0, totalSteps: 2)))
        return try ComputePrecision.with(precision) {
            _ = try trainer.trainStep()
            ResidentMemory.resetPeak()
            let t = try seconds { _ = try trainer.trainStep() }
            return WorkloadRate(tokensPerSecond: 1024 / t, peakBytes: ResidentMemory.peakBytes())
        }
    }
}
