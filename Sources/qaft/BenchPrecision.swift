import Evaluation
import Foundation
import Methods
import Models
import Tensor
import Training

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

    /// The issue's targets for qaft bf16 against PyTorch bf16 autocast: tokens/s at least this many
    /// times PyTorch's, and peak memory at most this fraction of it.
    static let peerSpeedTarget = 1.2, peerMemoryTarget = 0.5

    /// A workload of the precision section: qaft's measurement at a precision, and the PyTorch
    /// workload it is compared with.
    private struct PrecisionWorkload {
        var name: String
        var peer: TorchPeer.Workload
        /// Why PyTorch has no such workload of its own; it is then compared with `peer` as measured
        /// in an earlier row.
        var noPeer: String? = nil
        /// Why the workload cannot run on this model (it is then skipped with this message).
        var skipped: String? = nil
        var qaft: (ComputePrecision) throws -> WorkloadRate
    }

    /// Who runs a workload, at which precision, in one round.
    private struct Contender {
        var label: String
        var precision: ComputePrecision
        /// A peer's failure is printed and the rest runs on; qaft's own is an error of the bench.
        var isPeer: Bool
        var measure: () throws -> WorkloadRate
    }

    /// Forward, LoRA r16 step and L4Q step: qaft fp32 and bf16 beside PyTorch fp32 and bf16
    /// autocast, in alternating rounds (qaft fp32, qaft bf16, torch fp32, torch bf16, …) so drift in
    /// the machine's load hits all alike; medians of `repeats` rounds on the same token ids. Every
    /// contender gets one warm-up and one timed call per round on a model loaded afresh (PyTorch in
    /// a fresh process each).
    func precisionSection() throws {
        print("\n## precision: qaft fp32 and bf16 beside PyTorch fp32 and bf16 autocast (4×256 tokens, \(repeats) alternating rounds, medians)")
        if let reason = ComputePrecision.bf16Unavailable { print("  qaft bf16 falls back to fp32 here: \(reason)") }
        let peersUnavailable = TorchPeer.unavailable(model: modelOptions.model)
        if let why = peersUnavailable { print("  PyTorch peers not measured: \(why)") }
        // Memory like with like: each side's peak of its timed call alone, VmHWM restarted after the
        // warm-up. Both hold their resident fp32 model, libraries and working set. Not the process
        // peaks: torch's is set by transformers dequantizing the GGUF on load (1.65 GB even for a
        // forward), which loading a safetensors checkpoint would not cost, and qaft's spans every
        // earlier section of this bench process.
        print("  peak: the timed call's own resident peak (VmHWM restarted after the warm-up; model, libraries and working set"
              + " included, loading not); torch's whole-process peak, loading included, in parentheses")
        print("  qaft's forward scores as its evaluations do: every row's logits, each row's log-normalizer taken a head chunk"
              + " at a time (no 4·256 × vocab matrix kept), on the model built for the precision (bf16: projections and head in bf16 only)")
        let config = try ModelLoader.config(of: URL(fileURLWithPath: modelOptions.model))
        let tokens = benchSequences(config)
        var versions: String?
        var peerBF16: [TorchPeer.Workload: Result<WorkloadRate, PeerMissing>] = [:]
        for workload in precisionWorkloads(config) {
            if let why = workload.skipped {
                print("  \(workload.name): skipped, \(why)")
                continue
            }
            var contenders = ComputePrecision.allCases.map { p in
                Contender(label: "qaft \(p.rawValue)", precision: p, isPeer: false) { try workload.qaft(p) }
            }
            if peersUnavailable == nil, workload.noPeer == nil {
                contenders += ComputePrecision.allCases.map { p in
                    Contender(label: p == .bf16 ? "torch bf16 autocast" : "torch fp32", precision: p, isPeer: true) {
                        let m = try TorchPeer.measure(workload: workload.peer, precision: p, model: modelOptions.model,
                                                      tokens: tokens, steps: 1, warmup: 1)
                        versions = m.versions
                        return WorkloadRate(tokensPerSecond: m.tokensPerSecond, peakBytes: m.workloadPeakRssBytes,
                                            processPeakBytes: m.peakRssBytes)
                    }
                }
            }
            let results = try alternatingRounds(contenders)
            print("  \(workload.name)")
            for (c, result) in zip(contenders, results) {
                let label = c.label.padding(toLength: 20, withPad: " ", startingAt: 0)
                switch result {
                case .success(let rate):
                    let fp32 = contenders.firstIndex { $0.isPeer == c.isPeer && $0.precision == .fp32 }.flatMap { try? results[$0].get() }
                    let gain = c.precision == .bf16 ? fp32.map { String(format: "   %.2f× its fp32", rate.tokensPerSecond / $0.tokensPerSecond) } : nil
                    print("    \(label) \(rate.formatted)\(gain ?? "")")
                case .failure(let missing): print("    \(label) failed: \(missing.reason)")
                }
            }
            if let why = workload.noPeer {
                print("    torch               no PyTorch peer (\(why)); compared with torch's \(workload.peer.rawValue) step, as the issue's target asks")
            } else {
                let peer = contenders.firstIndex { $0.isPeer && $0.precision == .bf16 }.map { results[$0] }
                peerBF16[workload.peer] = peer ?? .failure(PeerMissing(reason: "PyTorch peers not measured"))
            }
            let qaftBF16 = try results[contenders.firstIndex { !$0.isPeer && $0.precision == .bf16 }!].get()
            print("    " + peerComparison(qaft: qaftBF16, peer: peerBF16[workload.peer]!, peerName: workload.peer.rawValue))
        }
        if let versions { print("  peers: \(versions), 2 threads, one process per round (\(TorchPeer.defaultScript.relativePath))") }
    }

    /// Why a contender has no measurement.
    private struct PeerMissing: Error {
        var reason: String
    }

    /// Runs every contender once per round, in order, for `repeats` rounds; a peer that fails is
    /// dropped from later rounds and keeps its first error.
    private func alternatingRounds(_ contenders: [Contender]) throws -> [Result<WorkloadRate, PeerMissing>] {
        var rounds = [[WorkloadRate]](repeating: [], count: contenders.count)
        var failures = [PeerMissing?](repeating: nil, count: contenders.count)
        for _ in 0..<repeats {
            for (i, c) in contenders.enumerated() where failures[i] == nil {
                do { rounds[i].append(try c.measure()) } catch where c.isPeer {
                    failures[i] = PeerMissing(reason: "\(error)")
                }
            }
        }
        return zip(rounds, failures).map { rounds, failure in failure.map { .failure($0) } ?? .success(.summary(rounds)) }
    }

    /// "qaft bf16 / torch bf16 autocast lora: tokens/s 1.37× (target ≥ 1.2×) PASS; peak 0.76× (target ≤ 0.5×) FAIL".
    private func peerComparison(qaft: WorkloadRate, peer: Result<WorkloadRate, PeerMissing>, peerName: String) -> String {
        let head = "qaft bf16 / torch bf16 autocast \(peerName):"
        let torch: WorkloadRate
        switch peer {
        case .success(let rate): torch = rate
        case .failure(let missing): return "\(head) not compared (\(missing.reason))"
        }
        let speed = TargetRatio(value: qaft.tokensPerSecond / torch.tokensPerSecond, target: Self.peerSpeedTarget, atLeast: true)
        guard let mine = qaft.peakBytes, let theirs = torch.peakBytes else {
            return "\(head) tokens/s \(speed.formatted); peak not compared (the kernel refused to restart VmHWM)"
        }
        let memory = TargetRatio(value: Double(mine) / Double(theirs), target: Self.peerMemoryTarget, atLeast: false)
        return "\(head) tokens/s \(speed.formatted); peak \(memory.formatted)"
    }

    private func precisionWorkloads(_ config: LlamaConfig) -> [PrecisionWorkload] {
        let group = 64
        let indivisible = config.projectionInputWidths.first { $0 % group != 0 }
        return [
            PrecisionWorkload(name: "forward, all logits", peer: .forward) { try forwardRate($0) },
            PrecisionWorkload(name: "LoRA r16 step (7 projections)", peer: .lora) {
                try stepRate(method: "lora", options: MethodOptions(rank: 16, alpha: 32), $0)
            },
            PrecisionWorkload(name: "L4Q 4-bit g\(group) r16 step", peer: .lora, noPeer: "L4Q is in neither peft nor transformers",
                              skipped: indivisible.map { "its group \(group) does not divide the model's projection input width \($0)" }) {
                try stepRate(method: "l4q", options: MethodOptions(bits: 4, groupSize: group, rank: 16, alpha: 32), $0)
            },
        ]
    }

    /// Wall time of one call of `body`.
    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// The issue's targets for MMLU scoring in bf16: at least this many times fp32's speed, with the
    /// same prediction on at least this fraction of the questions.
    static let mmluSpeedTarget = 1.6, mmluAgreementTarget = 0.99

    /// MMLU 5-shot scoring of the evaluation section's questions with one worker per core, in fp32
    /// and in bf16: the speed ratio and how many questions get the same prediction (acc's argmax).
    func mmluPrecisionLine(_ loaded: LoadedModel, questions: Int = 256) throws {
        print("\n## MMLU 5-shot scoring, fp32 vs bf16 (\(questions) questions, prefix reuse, one worker per core)")
        if let reason = ComputePrecision.bf16Unavailable { return print("  skipped: \(reason)") }
        let sample = try mmluSample(questions: questions)
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: loaded.tokenizer.addsBOSByDefault))
        var runs: [ComputePrecision: (seconds: Double, items: [ItemRecord])] = [:]
        for p in ComputePrecision.allCases {
            let workers = ModelScorer.workers(model: Llama(loaded.weights, precision: p))
            runs[p] = try ComputePrecision.with(p) {
                var items: [ItemRecord] = []
                let t = try seconds { items = try evaluator.score(sample, scorers: workers) }
                return (t, items)
            }
        }
        let fp32 = runs[.fp32]!, bf16 = runs[.bf16]!
        let same = zip(fp32.items, bf16.items).filter { $0.prediction == $1.prediction }.count
        let accuracy = { (r: [ItemRecord]) in Double(r.filter(\.correct).count) / Double(r.count) }
        let speed = TargetRatio(value: fp32.seconds / bf16.seconds, target: Self.mmluSpeedTarget, atLeast: true)
        let agreement = TargetRatio(value: Double(same) / Double(sample.count), target: Self.mmluAgreementTarget, atLeast: true, percent: true)
        print(String(format: "  fp32 %.1fs, bf16 %.1fs: bf16 speed / fp32 %@; same prediction on %d of %d, %@; acc fp32 %.3f bf16 %.3f",
                     fp32.seconds, bf16.seconds, speed.formatted as NSString, same, sample.count, agreement.formatted as NSString,
                     accuracy(fp32.items), accuracy(bf16.items)))
    }

    /// Four random 256-token sequences of the model's vocabulary (seeded).
    private func benchSequences(_ c: LlamaConfig) -> [[Int]] {
        var rng = SeededRandom(seed: 1)
        return (0..<4).map { _ in (0..<256).map { _ in Int(rng.next() % UInt64(c.vocabSize)) } }
    }

    /// The model's weights loaded afresh, without a note (the section loads once per round).
    private func freshWeights() throws -> LlamaWeights {
        var quiet = modelOptions
        quiet.quiet = true
        return try quiet.load().weights
    }

    /// One forward of 4×256 tokens scored as the evaluations score: the logits of every row, each
    /// row's log-normalizer taken as its head chunk is written, no (rows × vocab) matrix kept. On a
    /// model loaded afresh and built as scoring at `precision` builds it (`Llama(_:precision:)`).
    func forwardRate(_ precision: ComputePrecision) throws -> WorkloadRate {
        let weights = try freshWeights()
        let batch = TokenBatch(sequences: benchSequences(weights.config)), rows = Array(0..<batch.rowCount)
        let model = Llama(consume weights, precision: precision)
        var sink: Float = 0
        func score() throws {
            try model.forward(batch, logitRows: rows) { _, logits in sink += SIMDMath.logSumExp(logits.baseAddress!, logits.count) }
        }
        defer { withExtendedLifetime(sink) {} }
        return try ComputePrecision.with(precision) {
            try score()
            let restarted = ResidentMemory.resetPeak()
            let t = try seconds { try score() }
            return WorkloadRate(tokensPerSecond: Double(rows.count) / t, peakBytes: restarted ? ResidentMemory.peakBytes() : nil)
        }
    }

    /// One optimizer step of a registered method at 4×256 tokens (batch 4, one micro-batch), on
    /// weights loaded afresh.
    func stepRate(method name: String, options: MethodOptions, _ precision: ComputePrecision) throws -> WorkloadRate {
        let weights = try freshWeights()
        let method = try MethodRegistry.make(name, options: options)
        let model = try method.prepare(MethodContext(weights: weights, calibration: [], seed: 1))
        let data = benchSequences(weights.config).map { TrainingSequence(tokens: $0, responseStart: 1) }
        let trainer = try Trainer(model: model, groups: method.parameterGroups(model), data: data, config: TrainingConfig(
            steps: 2, batchSize: 4, microBatchSize: 4,
            schedule: LearningRateSchedule(peak: 1e-4, warmupSteps: 0, totalSteps: 2)))
        return try ComputePrecision.with(precision) {
            _ = try trainer.trainStep()
            let restarted = ResidentMemory.resetPeak()
            let t = try seconds { _ = try trainer.trainStep() }
            return WorkloadRate(tokensPerSecond: 1024 / t, peakBytes: restarted ? ResidentMemory.peakBytes() : nil)
        }
    }
}
