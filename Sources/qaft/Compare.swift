import ArgumentParser
import Evaluation
import Foundation

/// `qaft compare`: paired significance between two `qaft eval --samples` files, task by task.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Paired test (exact McNemar + paired bootstrap) between two runs' per-item records.")

    @Argument(help: "Baseline samples file (from qaft eval --samples).")
    var baseline: String

    @Argument(help: "Candidate samples file, scored on the same items.")
    var candidate: String

    @Option(help: "Metric to compare (acc or acc_norm; default: each task's reported metric).")
    var metric: Metric?

    @Option(help: "Bootstrap resamples.")
    var resamples = 10_000

    @Option(help: "Bootstrap seed.")
    var seed: UInt64 = 1234

    @Option(help: "Write the comparisons as JSON here.")
    var output: String?

    func run() throws {
        let a = try load(baseline), b = try load(candidate)
        let common = a.filter { run in b.contains { $0.task == run.task } }
        guard !common.isEmpty else {
            throw ValidationError("no task is in both files (\(a.map(\.task)) vs \(b.map(\.task)))")
        }
        print(["task", "metric", "n", "baseline", "candidate", "Δ", "only base", "only cand", "McNemar p", "bootstrap 95% CI", "boot p"]
            .joined(separator: "\t"))
        var comparisons: [RunComparison] = []
        for base in common {
            let cand = b.first { $0.task == base.task }!
            let m = metric ?? base.reportedMetric
            let c = try RunComparison(baseline: base, candidate: cand, metric: m, resamples: resamples, seed: seed)
            comparisons.append(c)
            print([c.task, m.rawValue, "\(c.items)", String(format: "%.4f", c.baseline), String(format: "%.4f", c.candidate),
                   String(format: "%+.4f", c.candidate - c.baseline), "\(c.onlyBaseline)", "\(c.onlyCandidate)",
                   String(format: "%.4g", c.mcnemarP), String(format: "[%+.4f, %+.4f]", c.bootstrap.lower, c.bootstrap.upper),
                   String(format: "%.4g", c.bootstrap.pValue)].joined(separator: "\t"))
        }
        for run in a where !common.contains(where: { $0.task == run.task }) { Progress.note("\(run.task): only in \(baseline)") }
        for run in b where !common.contains(where: { $0.task == run.task }) { Progress.note("\(run.task): only in \(candidate)") }
        if let output {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(comparisons).write(to: URL(fileURLWithPath: output), options: .atomic)
        }
    }

    private func load(_ path: String) throws -> [TaskRun] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): file not found or unreadable") }
        do {
            return try JSONDecoder().decode([TaskRun].self, from: data)
        } catch {
            throw ValidationError("\(path): not a qaft eval samples file (\(error))")
        }
    }
}

extension Metric: ExpressibleByArgument {}
