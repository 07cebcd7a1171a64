import ArgumentParser
import Foundation
import Models
import Tensor

/// `qaft bench`: speed of qaft's kernels and model paths as ratios to references measured in the
/// same run (the sgemm rate of this machine), medians of several repetitions.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure speed against references taken in the same run.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Repetitions per measurement (the median is reported).")
    var repeats = 5

    @Option(help: "Run only these sections (comma-separated: forward, training, precision, evaluation, quantization, decode, tokenizer, methods; default all but methods' own runs).")
    var only: String?

    @Option(help: "llama.cpp's llama-bench executable: the decode section has it decode the exported RTN w4 row beside qaft.")
    var llamaBench: String?

    @Option(help: "Also a llama.cpp 4-bit GGUF of its own for llama-bench to decode (SmolLM2-135M-Instruct Q4_0 in `make bench`).")
    var llamaModel: String?

    func wants(_ section: String) -> Bool { only.map { $0.split(separator: ",").contains(Substring(section)) } ?? true }

    func run() throws {
        print("qaft bench — OpenBLAS threads: \(BLAS.threads), medians of \(repeats) runs")
        if try methodsSection() { return }
        let gemmRate = sgemmSection()
        // Each section loads the model itself, so none holds it across the precision section, whose
        // resident peaks would count it.
        if wants("forward") { try forwardSection(Llama(modelOptions.load().weights), gemmRate: gemmRate) }
        if wants("training") { try trainingSection(modelOptions.load().weights, gemmRate: gemmRate) }
        if wants("precision") {
            bf16GEMMSection()
            try precisionSection()
            try mmluPrecisionLine(modelOptions.load())
        }
        if wants("evaluation") { try evaluationSection(modelOptions.load()) }
        if wants("quantization") { try quantizationSection(modelOptions.load().weights) }
        if wants("decode") { try decodeSection(modelOptions.load().weights) }
        if wants("tokenizer") { try tokenizerSection() }
    }

    /// Median wall time of `body` in seconds over `repeats` calls, after one warm-up call.
    func median(_ body: () throws -> Void) rethrows -> Double {
        try Stopwatch.medianSeconds(repeats: repeats, body)
    }

    /// cblas sgemm GFLOP/s at the model's shapes; returns the FFN-shape rate, the reference for all
    /// FLOP efficiencies.
    func sgemmSection() -> Double {
        print("\n## sgemm (the reference rate)")
        var reference = 0.0
        for (m, k, n, what) in [(512, 576, 1536, "FFN up 512×576·576×1536"), (512, 576, 49152, "head 512×576·576×49152")] {
            let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: n * k)
            var c = [Float](repeating: 0, count: m * n)
            let t = median {
                BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
            }
            let rate = 2 * Double(m * n * k) / t / 1e9
            if reference == 0 { reference = rate }
            print(String(format: "  %-28@ %7.1f GFLOP/s", what as NSString, rate))
        }
        return reference
    }

    func forwardSection(_ model: Llama, gemmRate: Double) throws {
        let c = model.config
        print("\n## forward (\(c.layerCount) layers, dim \(c.dim))")
        var rng = SeededRandom(seed: 1)
        let seqs = (0..<4).map { _ in (0..<256).map { _ in Int(rng.next() % UInt64(c.vocabSize)) } }
        let t = try median { _ = try model.forward(TokenBatch(sequences: seqs), logits: .all) }
        let tps = 1024 / t
        let flops = c.flopsPerToken + attentionFlops(c, length: 256)
        print(String(format: "  prefill 4×256, all logits    %7.1f tokens/s   %5.1f%% of sgemm rate (%.2f GFLOP/token)",
                     tps, 100 * flops * tps / 1e9 / gemmRate, flops / 1e9))

        let prompt = Array(seqs[0].prefix(16))
        let steps = 64
        let td = try median {
            _ = try Generator(model: model).generate(prompt: prompt, maxNewTokens: steps)
        }
        let prefill = try median { _ = try model.forward(TokenBatch(prompt), cache: KVCache(config: c, slots: 1, capacity: 16), logits: .lastOfEachSequence) }
        print(String(format: "  decode batch 1 (KV cache)    %7.1f tokens/s", Double(steps) / (td - prefill)))
        rowMaxLine(vocabulary: c.vocabSize)
    }

    /// The row maximum under every softmax, logSumExp and argmax (`SIMDMath.max`, compare and blend)
    /// against the standard library's `pointwiseMax` loop it replaced, whose per-lane NaN rules
    /// compile to scalar code, on one vocabulary-wide row.
    func rowMaxLine(vocabulary n: Int) {
        var rng = SeededRandom(seed: 2)
        let row = (0..<n).map { _ in rng.nextGaussian() }
        let calls = 100
        var sink: Float = 0
        row.withUnsafeBufferPointer { r in
            let x = r.baseAddress!
            let fast = median { for _ in 0..<calls { sink += SIMDMath.max(x, n) } }
            let reference = median {
                for _ in 0..<calls {
                    var acc = SIMD16<Float>(repeating: -.infinity), i = 0
                    while i + 16 <= n { acc = pointwiseMax(acc, SIMDMath.load(x + i)); i += 16 }
                    sink += acc.max()
                }
            }
            print(String(format: "  softmax row max (%d floats) %7.2f µs   %5.1f× the pointwiseMax loop",
                         n, fast / Double(calls) * 1e6, reference / fast))
        }
        withExtendedLifetime(sink) {}
    }

    /// Attention's own FLOPs per token at sequence length L (QKᵀ and PV over the full causal square, as computed).
    func attentionFlops(_ c: LlamaConfig, length: Int) -> Double {
        2 * 2 * Double(c.layerCount * c.headCount * c.headDim * length)
    }
}
