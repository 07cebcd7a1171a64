import ArgumentParser
import Experiments
import Foundation
import Pipeline
import Tensor

/// Which cache a command computes in: the pipeline commands' and the one-stage commands'
/// (`qaft quantize`, `qaft finetune`), so all of them share results.
struct CacheOptions: ParsableArguments {
    @Option(help: "Cache: a directory (SQLite, one machine) or postgres://USER@HOST:PORT/DB (shared by a cluster). Default: $QAFT_CACHE, else .cache/qaft.")
    var cache: String?

    @Option(help: "With a PostgreSQL cache: the folder every host sees, holding artifacts and checkpoints (default: $QAFT_ARTIFACTS).")
    var artifacts: String?

    /// Manifests' data paths and the default cache are relative to the repository root: the working directory.
    var root: URL { URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }

    func openCache() throws -> Cache {
        try Cache(try CacheLocation.resolve(cache: cache, artifacts: artifacts, base: root))
    }
}

/// Options shared by the pipeline commands (reproduce, status, why, gc, check).
struct PipelineOptions: ParsableArguments {
    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Profile: tiny (stories260K, seconds), quick (SmolLM2-135M, smoke-run budgets, minutes), default (SmolLM2-135M: ½ / one epoch budgets, hours per table), full (every item, paper-length budgets).")
    var profile: Profile = .default

    @Option(help: "Run the target on this model instead of the profile's: a GGUF file or a Hugging Face folder (llama, mistral, qwen2).")
    var model: String?

    @Option(help: "Fine-tuning products in fp32 or bf16 instead of the profile's (quick, default and full: bf16, tiny: fp32).")
    var finetunePrecision: ComputePrecision?

    @Option(help: "Scoring products in fp32 or bf16 instead of the profile's (fp32: scores agree with lm-eval item by item).")
    var scoringPrecision: ComputePrecision?

    var root: URL { cacheOptions.root }

    func openCache() throws -> Cache { try cacheOptions.openCache() }

    func plan(_ target: String) throws -> Plan {
        try Planner(root: root).plan(try Catalog.manifests(target, profile: profile, model: model.map { .file($0, tokenizer: nil) },
                                                           fineTuningPrecision: finetunePrecision, scoringPrecision: scoringPrecision))
    }
}

extension Profile: ExpressibleByArgument {}
