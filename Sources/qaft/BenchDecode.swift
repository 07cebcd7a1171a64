import Export
import Foundation
import LlamaCpp
import Models
import Quantization
import Tensor

extension Bench {
    /// Whole-model batch-1 decode with the KV cache: fp32, then every projection RTN w4 g64 with the
    /// head float or on the checkpoint's Q8_0 grid, on float or int8 activations. With llama.cpp's
    /// `--llama-bench`, llama.cpp decodes the same RTN w4 row exported by `qaft export`'s code (the
    /// model qaft decodes, float head included) and, with `--llama-model`, its own 4-bit file, in
    /// rounds alternating with ours, so both see the same machine state.
    func decodeSection(_ weights: LlamaWeights) throws {
        print("\n## whole-model decode (batch 1, 64 tokens after a 16-token prompt)")
        var rng = SeededRandom(seed: 5)
        let quantized = try ModelQuantizer.quantize(weights, options: .init(method: .rtn, bits: 4, groupSize: 64), calibration: nil)
        let prompt = (0..<16).map { _ in Int(rng.next() % UInt64(weights.config.vocabSize)) }
        func decodeRate(_ model: Llama, _ activations: ActivationPrecision) throws -> Double {
            try DecodeSpeed.tokensPerSecond(model, prompt: prompt, repeats: repeats, activations: activations)
        }
        let floatHead = quantized.llama(), q8Head = quantized.llama()
        try q8Head.quantizeHead()
        let fpRate = try decodeRate(Llama(weights), .float32)
        let rates = try [floatHead, q8Head].map { m in try [ActivationPrecision.float32, .int8].map { try decodeRate(m, $0) } }
        print(String(format: "  tokens/s (×fp32): fp32 %.1f; RTN w4 g64 (%.2f bits/weight) on float activations %.1f (%.2f×), on int8 activations %.1f (%.2f×)",
                     fpRate, quantized.bitsPerWeight, rates[0][0], rates[0][0] / fpRate, rates[0][1], rates[0][1] / fpRate))
        print(String(format: "  with the head on the checkpoint's Q8_0 grid as in llama.cpp's Q4_0 file: float activations %.1f (%.2f×), int8 activations %.1f (%.2f×)",
                     rates[1][0], rates[1][0] / fpRate, rates[1][1], rates[1][1] / fpRate))

        guard let llamaBench else {
            print("  llama.cpp: not compared (no --llama-bench; `make bench` builds it)")
            return
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let exportedFile = scratch.appendingPathComponent("rtn-w4g64.gguf")
        let source = URL(fileURLWithPath: modelOptions.model)
        guard (try? ModelLoader.format(of: source)) == .gguf else {
            print("  llama.cpp: not compared (\(source.lastPathComponent) is not a GGUF: no tokenizer keys to export)")
            return
        }
        let tokenizer = try GGUFFile(contentsOf: source).metadata.filter { $0.key.hasPrefix("tokenizer.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let report = try LlamaCppExport.write(try DeployedModel(quantized), to: exportedFile, metadata: tokenizer)
        print("  the RTN w4 g64 row exported for llama.cpp: " + report.summary.replacingOccurrences(of: "\n", with: "; "))

        // (what llama.cpp runs, its file, qaft's model of it)
        var pairs = [("exported RTN w4 row vs qaft, same model", exportedFile, floatHead)]
        if let llamaModel { pairs.append(("llama.cpp's \((llamaModel as NSString).lastPathComponent) vs qaft w4 + Q8_0 head", URL(fileURLWithPath: llamaModel), q8Head)) }
        let bench = LlamaBench(executable: URL(fileURLWithPath: llamaBench), threads: 2, repetitions: repeats)
        let test = LlamaBench.Test.decode(64, after: prompt.count)
        print("  against llama.cpp's llama-bench (tg64 after a 16-token context, 2 threads), qaft on int8 activations, rounds alternating:")
        var ratios = [[Double]](repeating: [], count: pairs.count)
        for round in 1...3 {
            var parts: [String] = []
            for (i, (name, file, model)) in pairs.enumerated() {
                let theirs = try bench.run(test, model: file).tokensPerSecond
                let ours = try decodeRate(model, .int8)
                ratios[i].append(ours / theirs)
                parts.append(String(format: "%@: llama.cpp %.1f, qaft %.1f tokens/s (%.2f×)", name, theirs, ours, ours / theirs))
            }
            print("    round \(round): " + parts.joined(separator: "; "))
        }
        for (i, (name, _, _)) in pairs.enumerated() {
            print(String(format: "  median ratio qaft / llama.cpp, %@: %.2f× (target ≥ 1)", name, ratios[i].sorted()[1]))
        }
    }
}
