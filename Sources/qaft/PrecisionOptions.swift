import ArgumentParser
import Tensor

/// `--precision` of the commands that compute directly (`qaft eval`, `qaft perplexity`): the
/// arithmetic of their products (`ComputePrecision`). fp32 by default: the precision in which
/// scores agree with lm-evaluation-harness item by item.
struct PrecisionOptions: ParsableArguments {
    @Option(help: "Products in fp32 (default) or bf16 (bf16 operands, fp32 accumulation; fp32 where the CPU lacks AVX512_BF16/AMX).")
    var precision: ComputePrecision = .fp32

    /// Runs `body` in the chosen precision.
    func run<T>(_ body: () throws -> T) rethrows -> T { try ComputePrecision.with(precision, body) }
}

extension ComputePrecision: ExpressibleByArgument {}
