import ArgumentParser
import Experiments
import Foundation
import Pipeline

/// `qaft status <target>`: what is cached, what is running, what would run.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show which stages of a target are cached and which would run.")

    @Argument(help: "Target: \(Catalog.names.joined(separator: ", ")), or all.")
    var target: String?

    @OptionGroup var options: PipelineOptions

    @Flag(help: "Instead of a target's stages: every committed report in Results/, current or stale against what today's code plans.")
    var all = false

    @Option(help: "With --all: the Results directory to check.")
    var results = "Results"

    func validate() throws {
        if all == (target != nil) { throw ValidationError(all ? "--all checks every report: give no target" : "give a target, or --all") }
    }

    func run() throws {
        guard let target else { return try checkReports() }
        let inspection = PlanInspection(cache: try options.openCache(), plan: try options.plan(target))
        var toRun = 0, cachedSeconds = 0.0
        // Slurm's view beside the cache's, where Slurm's client tools are installed.
        let jobs = (try? Slurm.queuedJobs()) ?? [:]
        for (stage, state) in try inspection.status() {
            let text: String
            switch state {
            case .cached(let s): text = String(format: "cached (%.2fs)", s); cachedSeconds += s
            case .running(let owner): text = "running in \(owner)"
            case .wouldRun(let resumable): text = resumable ? "would resume from a checkpoint" : "would run"; toRun += 1
            }
            let job = jobs[stage.key].map { "  · slurm job \($0.id) \($0.state)" + ($0.nodes.isEmpty ? "" : " on \($0.nodes)") } ?? ""
            print("\(stage.key.short)  \(stage.label)  [\(stage.kind)]  \(text)\(job)")
        }
        print("\(toRun) of \(inspection.plan.stages.count) stages would run; the longest chain of dependent stages has \(inspection.plan.longestChain)")
        // What a cold run costs, whichever runs (or targets sharing the stages) computed them.
        let t = Int(cachedSeconds.rounded())
        print(String(format: "the cached stages took %d:%02d:%02d to compute (their recorded times summed)", t / 3600, t / 60 % 60, t % 60))
    }

    /// Each committed report, re-planned under its own profile (with this command's other options).
    private func checkReports() throws {
        var stale = 0
        let states = try ReportProvenance.check(URL(fileURLWithPath: results)) { target, profile in
            guard Catalog.names.contains(target), let profile = Profile(rawValue: profile) else { return nil }
            var o = options
            o.profile = profile
            return try o.plan(target).reports[target]?.hex
        }
        for (report, state) in states {
            if state != .current { stale += 1 }
            print("\(report): \(state)")
        }
        print("\(stale) of \(states.count) reports are not what today's code makes")
    }
}
