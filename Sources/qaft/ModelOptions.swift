import ArgumentParser
import Export
import Foundation
import Models
import Quantization
import Tensor

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

    /// The model ready to run, with packed low-bit layers when `model` is a GGUF written by
    /// `qaft quantize` or a deployed model (`qaft finetune --deployed`, a stage's `deployed.gguf`:
    /// the model `qaft export` exports), plus its tokenizer (from the file, or `--tokenizer`) and config.
    /// A float model is built for products in `precision` (`Llama(_:precision:)`: in bf16 it keeps
    /// only bf16 projections and head); packed layers are the same at either precision.
    func loadModel(precision: ComputePrecision = .fp32) throws -> (Llama, any Tokenizer, LlamaConfig) {
        let url = URL(fileURLWithPath: model)
        if DeployedModelFile.isDeployed(url) {
            let d = try DeployedModelFile.read(url)
            let tok = try ModelLoader.loadTokenizer(url, tokenizer: tokenizer.map { URL(fileURLWithPath: $0) })
            if !quiet { Progress.note("loaded \((model as NSString).lastPathComponent): a deployed model") }
            return (try d.llama(), tok, d.config)
        }
        guard QuantizedModelFile.isQuantized(url) else {
            let m = try load()
            let tokenizer = m.tokenizer, config = m.config
            return (Llama((consume m).weights, precision: precision), tokenizer, config)
        }
        let q = try QuantizedModelFile.read(url)
        let tok = try ModelLoader.loadTokenizer(url, tokenizer: tokenizer.map { URL(fileURLWithPath: $0) })
        if !quiet {
            Progress.note(String(format: "loaded %@: %@ w%d g%d k%d, %.3f bits per linear weight", (model as NSString).lastPathComponent,
                                 q.options.method.rawValue, q.options.bits, q.options.groupSize, q.options.weakColumns, q.bitsPerWeight))
        }
        return (q.llama(), tok, q.weights.config)
    }
}
