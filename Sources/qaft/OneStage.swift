import ArgumentParser
import Foundation
import Tensor
import Pipeline

/// How `qaft quantize` and `qaft finetune` compute: the command's settings become one manifest row
/// (load-model → the method's stage), planned by `Planner.plan(model:row:seed:name:)` and run by
/// the `Runner` in the cache. The stage is the one `qaft reproduce` runs, with the key a manifest
/// row of the same settings gets: the commands and the tables share results, a rerun reuses
/// them, and a killed run resumes from the stage's checkpoints.
struct OneStage {
    /// The command, for labels and messages (`quantize`, `finetune`).
    let command: String
    /// The flag behind each row field and stage parameter (`groupSize`, `extra.actOrder`, `data`,
    /// …), so a value the planner refuses is reported under the flag that set it.
    let flags: [String: String]

    /// Plans `row` on the model of `model`, runs it in the cache of `cache` (progress on stderr
    /// unless `model.quiet`) and returns the row's model stage as the cache holds it.
    func run(_ row: RowSpec, model: ModelOptions, cache: CacheOptions, seed: UInt64) throws -> StageRecord {
        let planned: (plan: Plan, key: StageKey)
        do {
            planned = try Planner(root: cache.root).plan(model: .file(model.model, tokenizer: model.tokenizer), row: row, seed: seed,
                                                         name: "qaft " + command)
        } catch PipelineError.manifest(_, _, let field, let value, let reason) {
            throw ValidationError("\(flag(field)) \(value): \(reason)")
        }
        let c = try cache.openCache()
        let renderer = RunRenderer(quiet: model.quiet)
        renderer.summarize(try Runner(cache: c, events: renderer.handle).run(planned.plan), cache: c)
        guard let record = try c.result(planned.key) else {
            throw PipelineError.missingInput(stage: "qaft \(command)", input: "result \(planned.key.short)")
        }
        return record
    }

    /// `rows[0].quantization.parameters.extra.actOrder` → the flag registered for `extra.actOrder`
    /// (the field itself when no flag sets it).
    private func flag(_ field: String) -> String {
        var name = Substring(field)
        for prefix in ["rows[0].quantization.", "rows[0].fineTuning.", "parameters."] where name.hasPrefix(prefix) {
            name = name.dropFirst(prefix.count)
        }
        return flags[String(name)] ?? field
    }

    /// Writes the artifact file `source` to the user's `path` under a temporary name renamed into
    /// place, so an interrupted command leaves no partial file.
    static func write(_ source: URL, to path: String) throws {
        try Durable.copy(source, to: URL(fileURLWithPath: path))
    }
}
