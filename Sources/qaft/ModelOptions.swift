import ArgumentParser
import Foundation
import Models

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Model: a .gguf file, a Hugging Face folder (config.json + safetensors + tokenizer.json), or a llama2.c .bin.")
    var model: String = ProcessInfo.processInfo.environment["QAFT_SMOLLM2"] ?? ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Tokenizer file for llama2.c checkpoints (default: tok512.bin or tokenizer.bin beside the model).")
    var tokenizer: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func load() throws -> LoadedModel {
        let started = Date()
        let m = try ModelLoader.load(URL(fileURLWithPath: model), tokenizer: tokenizer.map { URL(fileURLWithPath: $0) })
        if !quiet {
            let c = m.config
            Progress.note(String(format: "loaded %@: %d layers, dim %d, vocab %d, %@ RoPE, in %.2fs",
                                 (model as NSString).lastPathComponent, c.layerCount, c.dim, c.vocabSize,
                                 c.ropeStyle.rawValue, Date().timeIntervalSince(started)))
        }
        return m
    }
}
