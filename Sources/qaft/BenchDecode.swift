import Foundation
import Models
import Quantization
import Tensor

extension Bench {
    /// Whole-model batch-1 decode with the KV cache: fp32, then every projection RTN w4 g64 with the
    /// head float or on the checkpoint's Q8_0 grid, on float or int8 activations. With a llama.cpp
    /// build (`--llama-bench`, `--llama-model`), llama.cpp's own decode benchmark of its 4-bit file
    /// runs in alternation with ours, so both see the same machine state.
    func decodeSection(_ weights: LlamaWeights) throws {
        print("\n## whole-model decode (batch 1, 64 tokens after a 16-token prompt)")
        var rng = SeededRandom(seed: 5)
        let quantized = try ModelQuantizer.quantize(weights, options: .init(method: .rtn, bits: 4, groupSize: 64), calibration: nil)
        let prompt = (0..<16).map { _ in Int(rng.next() % UInt64(weights.config.vocabSize)) }
        func decodeRate(_ model: Llama, _ activations: ActivationPrecision) throws -> Double {
            try DecodeSpeed.tokensPerSecond(model, prompt: prompt, repeats: repeats, activations: activations)
        }
        let q8Head = quantized.llama()
        try q8Head.quantizeHead()
        let fpRate = try decodeRate(Llama(weights), .float32)
        let rates = try [quantized.llama(), q8Head].map { m in try [ActivationPrecision.float32, .int8].map { try decodeRate(m, $0) } }
        print(String(format: "  tokens/s (×fp32): fp32 %.1f; RTN w4 g64 (%.2f bits/weight) on float activations %.1f (%.2f×), on int8 activations %.1f (%.2f×)",
                     fpRate, quantized.bitsPerWeight, rates[0][0], rates[0][0] / fpRate, rates[0][1], rates[0][1] / fpRate))
        print(String(format: "  with the head on the checkpoint's Q8_0 grid as in llama.cpp's Q4_0 file: float activations %.1f (%.2f×), int8 activations %.1f (%.2f×)",
                     rates[1][0], rates[1][0] / fpRate, rates[1][1], rates[1][1] / fpRate))

        guard let llamaBench, let llamaModel else {
            print("  llama.cpp: not compared (no --llama-bench/--llama-model; `make bench` builds them)")
            return
        }
        let reference = LlamaCppBench(executable: URL(fileURLWithPath: llamaBench), model: URL(fileURLWithPath: llamaModel),
                                      generated: 64, repeats: repeats)
        print("  against llama.cpp's llama-bench (tg64, 2 threads) on \((llamaModel as NSString).lastPathComponent), alternating:")
        var ratios: [Double] = []
        for round in 1...3 {
            let theirs = try reference.tokensPerSecond()
            let ours = try decodeRate(q8Head, .int8)
            ratios.append(ours / theirs)
            print(String(format: "    round %d: llama.cpp %.1f, qaft w4 + Q8_0 head on int8 activations %.1f tokens/s (%.2f×)",
                         round, theirs, ours, ours / theirs))
        }
        print(String(format: "  median ratio qaft / llama.cpp: %.2f× (target ≥ 1)", ratios.sorted()[1]))
    }
}

/// llama.cpp's `llama-bench` as a subprocess: the mean generation rate of `generated` tokens from
/// an empty context over `repeats` runs, on two threads.
struct LlamaCppBench {
    let executable: URL
    let model: URL
    let generated: Int
    let repeats: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func tokensPerSecond() throws -> Double {
        for file in [executable, model] where !FileManager.default.fileExists(atPath: file.path) {
            throw Failure(description: "llama.cpp comparison: \(file.path) does not exist")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-m", model.path, "-p", "0", "-n", "\(generated)", "-t", "2", "-r", "\(repeats)", "-o", "json"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let rows = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
              let rate = rows.first?["avg_ts"] as? Double else {
            throw Failure(description: "llama.cpp comparison: \(executable.path) exited with status \(process.terminationStatus) "
                          + "or printed no avg_ts (output: \(String(decoding: data.prefix(200), as: UTF8.self)))")
        }
        return rate
    }
}
