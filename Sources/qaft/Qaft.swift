import ArgumentParser
import Tensor

/// The qaft command line. Each subcommand lives in its own file.
@main
struct Qaft: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qaft",
        abstract: "Quantization-aware parameter-efficient fine-tuning (L4Q, QEFT, LoTA-QAF), reproduced on one machine.",
        subcommands: [Generate.self, Perplexity.self, Bench.self, Reproduce.self, Status.self, Why.self, GC.self, Check.self, Finetune.self, Eval.self, Compare.self, Quantize.self, ExportCommand.self, Tokenize.self, RunStage.self, Cancel.self])

    static func main() {
        BLAS.sleepIdleThreadsSoon()
        main(nil)
    }
}
