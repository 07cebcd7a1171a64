import ArgumentParser
import Experiments
import Export
import Foundation
import Pipeline

/// `qaft export`: a deployed model as files another runtime loads. The source is a row of a
/// target (its stage's `deployed.gguf`, from the cache) or a file (a `qaft quantize` output, or a
/// deployed model written by `qaft finetune --deployed`).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a deployed model for llama.cpp (GGUF Q4_0/Q4_1/Q8_0, plus a LoRA adapter GGUF for b&16 rows) or GPTQ (safetensors folder).",
        discussion: """
            qaft export TARGET ROW --format gguf|gptq -o PATH: the row's quantize or fine-tune stage from the cache.
            qaft export MODEL.gguf --format gguf|gptq -o PATH: a `qaft quantize` output or a deployed model file.
            gguf: a model with adapters also writes PATH's adapter beside it (NAME.lora.gguf, for llama.cpp's --lora).
            Grids llama.cpp cannot hold exactly (NF4, fp weak columns, groups not a multiple of 32) are refused.
            The token embedding (and an untied head) goes in the smallest type holding it exactly: Q8_0 (SmolLM2's), F16 or F32.
            gptq: PATH is a new folder (model.safetensors, config.json, quantize_config.json, tokenizer.json,
            tokenizer_config.json) that transformers + GPTQModel load; q/k rows go back to Hugging Face's order.
            Refused: fractional or out-of-range zero points, NF4, fp weak columns, fp adapters (b&16 rows),
            mixed bit widths or group sizes, widths not a multiple of 32. Scales not exact in fp16 are reported.
            """)

    @Argument(help: "A target (\(Catalog.names.joined(separator: ", "))) with ROW, or a model file.")
    var source: String

    @Argument(help: "With a target: the row (a quantize or fine-tune stage label of the target, or its prefix).")
    var row: String?

    @Option(help: "gguf (llama.cpp) or gptq (GPTQ safetensors).")
    var format = "gguf"

    @Option(name: .shortAndLong, help: "Output file (gguf) or folder (gptq), written under a temporary name, then renamed.")
    var output: String

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let file: URL
        if let row {
            let inspection = PlanInspection(cache: try options.openCache(), plan: try options.plan(source))
            let (stage, record) = try inspection.modelRecord(target: source, row: row)
            file = try ModelArtifact.deployedFile(record)
            print("row \(row): \(stage.label) [\(stage.kind)] \(stage.key.short)")
        } else {
            file = URL(fileURLWithPath: source)
        }
        guard ["gguf", "gptq"].contains(format) else { throw ExportError.unknownFormat(format) }
        let (model, tokenizer) = try DeployedSource.read(file)
        let url = URL(fileURLWithPath: output)
        if format == "gguf" {
            let report = try LlamaCppExport.write(model, to: url, metadata: tokenizer)
            print("wrote \(output)" + (report.adapter.map { " and its LoRA adapter \($0.path)" } ?? ""))
            print(report.summary)
        } else {
            let report = try GPTQFolder.write(model, source: .gguf(file: file.path, tokenizer: tokenizer), to: url)
            print("wrote \(output): \(report.files.joined(separator: ", "))")
            print(report.summary)
        }
    }
}
