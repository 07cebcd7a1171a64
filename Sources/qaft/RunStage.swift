import ArgumentParser
import Foundation
import Pipeline

/// `qaft run-stage KEY TARGET`: computes exactly one planned stage of a target — what each Slurm
/// job runs. It goes through the local runner (claim, heartbeat, checkpoints, commit), so a stage
/// computed here is the stage `qaft reproduce` computes; its inputs must already be cached.
struct RunStage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-stage", abstract: "Compute one stage of a target's plan, its inputs taken from the cache (a Slurm job's command).")

    @Argument(help: "The stage key (hex, as `qaft status` shows it: the first 12 digits suffice).")
    var key: String

    @Argument(help: "The target whose plan holds the stage.")
    var target: String

    @OptionGroup var options: PipelineOptions

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func run() throws {
        let plan = try options.plan(target)
        let matches = plan.stages.filter { $0.key.hex.hasPrefix(key.lowercased()) }
        guard matches.count == 1, let st = matches.first else {
            throw ValidationError(matches.isEmpty ? "no stage of \(target) (profile \(plan.profile.rawValue)) has key \(key)"
                                                  : "key \(key) is ambiguous in \(target): \(matches.map(\.label).joined(separator: ", "))")
        }
        let env = ProcessInfo.processInfo.environment
        if !quiet, let node = env["SLURMD_NODENAME"] {
            Progress.note("run-stage \(st.label) on node \(node) (job \(env["SLURM_JOB_ID"] ?? "?"))")
        }
        let cache = try options.openCache()
        for (name, input) in st.inputs.sorted(by: { $0.key < $1.key }) where try cache.result(input) == nil {
            throw ValidationError("stage \(st.label): its input \(name) (\(plan.stage(input)?.label ?? input.short)) is not in the cache yet")
        }
        try Runner(cache: cache, events: RunRenderer(quiet: quiet).handle).run(plan.closure(of: st.key))
    }
}
