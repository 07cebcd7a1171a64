import ArgumentParser
import Experiments
import Foundation
import Pipeline

/// `qaft reproduce <target>`: plans the target's stages, runs those not cached, and copies the
/// report (CSV, Markdown, gnuplot script, PNG) into Results/ and Figures/.
struct Reproduce: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reproduce a table or figure (cached, resumable).")

    @Argument(help: "Target: \(Catalog.names.joined(separator: ", ")), or all.")
    var target: String

    @OptionGroup var options: PipelineOptions

    @Option(help: "Directory receiving Results/ and Figures/ (default: the working directory).")
    var output: String?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @Flag(help: "First drop the cached stages whose times or speeds were taken beside other work, resumed, or before qaft recorded the machine's load, so they are measured again (leave the machine alone meanwhile).")
    var retime = false

    @OptionGroup var slurm: SlurmOptions

    func run() throws {
        let plan = try options.plan(target)
        let cache = try options.openCache()
        let renderer = RunRenderer(quiet: quiet)
        let retiming = retime ? try Retiming.forget(in: plan, cache: cache) : nil
        for d in retiming?.dropped ?? [] where !quiet { Progress.note("retime: \(d.label) is measured again") }
        switch slurm.executor {
        case .local:
            let summary = try Runner(cache: cache, events: renderer.handle).run(plan)
            try retiming?.verify(cache)
            try copyReports(plan, cache)
            renderer.summarize(summary, cache: cache)
        case .slurm:
            let executor = SlurmExecutor(cache: cache, settings: try slurm.settings(root: options.root),
                                         command: { SlurmOptions.jobCommand($0, target: target, options: options) },
                                         events: renderer.handle)
            let jobs = try executor.submit(plan)
            if slurm.detach { return }
            try executor.wait(plan, jobs: jobs)
            try retiming?.verify(cache)
            try copyReports(plan, cache)
        }
    }

    /// Copies each manifest's report (CSV, Markdown, gnuplot script, PNG) into Results/ and Figures/.
    private func copyReports(_ plan: Plan, _ cache: Cache) throws {
        let out = URL(fileURLWithPath: output ?? FileManager.default.currentDirectoryPath)
        for (id, key) in plan.reports.sorted(by: { $0.key < $1.key }) {
            guard let dir = try cache.result(key)?.artifactURL else { throw PipelineError.missingInput(stage: id, input: "report") }
            for (rel, url) in try FileDigest.files(in: dir) {
                let dest = out.appendingPathComponent(rel)
                try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
                if FileManager.default.fileExists(atPath: dest.path) { try FileManager.default.removeItem(at: dest) }
                try FileManager.default.copyItem(at: url, to: dest)
                print(dest.path)
            }
        }
    }
}

/// Renders runner events on stderr: a line per stage, a progress line with the run's ETA.
final class RunRenderer {
    let quiet: Bool
    private var progress: [String: Progress] = [:]

    init(quiet: Bool) { self.quiet = quiet }

    /// The closing line of a local run: what was computed, what was reused, and from where.
    func summarize(_ summary: RunSummary, cache: Cache) {
        if quiet { return }
        Progress.note("\(summary.computed.count) stages computed, \(summary.reused.count) reused from \(cache.location.description)")
    }

    func handle(_ event: SlurmEvent) {
        if quiet { return }
        switch event {
        case let .submitted(new, queued, cached):
            Progress.note("slurm: \(new) jobs submitted, \(queued) already queued, \(cached) stages cached")
        case let .progress(pending, running, done, total):
            Progress.note("slurm: \(done)/\(total) done, \(running) running, \(pending) pending")
        }
    }

    func handle(_ event: RunEvent) {
        if quiet { return }
        switch event {
        case let .planned(total, toCompute):
            Progress.note("plan: \(total) stages, \(toCompute) to compute, \(total - toCompute) cached")
        case let .started(label, kind, number, of):
            Progress.note("[\(number)/\(of)] \(label) (\(kind))")
            progress[label] = Progress("  " + label, quiet: false)
        case let .resumed(label, units):
            Progress.note("  \(label): resumed from a checkpoint after \(units) units")
            progress[label]?.resumedAt = units
        case let .tookOver(label, previous):
            Progress.note("  \(label): took over the claim of \(previous), dead or silent")
        case let .progress(label, done, total, eta, detail):
            let parts = [detail, eta.map { "run ETA " + Progress.clock($0) }].compactMap { $0 }
            progress[label]?.update(done, of: total, unit: "units", extra: parts.joined(separator: " · "))
        case let .waiting(label, owner):
            Progress.note("  \(label): being computed by \(owner); waiting")
        case let .finished(label, seconds, computed):
            if computed { Progress.note(String(format: "  done %@ in %.2fs", label, seconds)) }
        }
    }
}
