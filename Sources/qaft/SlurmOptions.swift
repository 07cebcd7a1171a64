import ArgumentParser
import Foundation
import Pipeline

/// How `qaft reproduce` executes a plan: here (one process, the default) or as Slurm jobs.
enum Executor: String, ExpressibleByArgument, CaseIterable {
    case local, slurm
}

/// `qaft reproduce --executor slurm` options: the usual `sbatch` settings and where job logs go.
struct SlurmOptions: ParsableArguments {
    @Option(help: "Where stages run: local (this process) or slurm (one job per stage).")
    var executor: Executor = .local

    @Option(help: "Slurm partition.")
    var partition: String?

    @Option(help: "Slurm account.")
    var account: String?

    @Option(help: "Slurm time limit per job (sbatch --time).")
    var time: String?

    @Option(help: "Slurm QOS.")
    var qos: String?

    @Option(parsing: .singleValue, help: "Further sbatch argument, verbatim (repeatable).")
    var sbatch: [String] = []

    @Option(help: "Folder for the jobs' logs, seen by every node (default: .cache/qaft-slurm-logs).")
    var logs: String?

    @Flag(help: "With slurm: return once the jobs are submitted instead of following them.")
    var detach = false

    func settings(root: URL) -> SlurmSettings {
        var s = SlurmSettings(logs: URL(fileURLWithPath: logs ?? ".cache/qaft-slurm-logs", relativeTo: root).standardizedFileURL)
        s.partition = partition
        s.account = account
        s.time = time
        s.qos = qos
        s.extraArguments = sbatch
        return s
    }

    /// The command line of a job computing `st` of `target`: this same qaft binary and the same
    /// pipeline options, from the submitting directory (sbatch's default working directory).
    static func jobCommand(_ st: PlannedStage, target: String, options: PipelineOptions) -> String {
        let qaft = Bundle.main.executableURL?.path ?? CommandLine.arguments[0]
        var words = [qaft, "run-stage", st.key.hex, target, "--profile", options.profile.rawValue]
        for (flag, value) in [("--model", options.model), ("--cache", options.cacheOptions.cache), ("--artifacts", options.cacheOptions.artifacts)] {
            if let value { words += [flag, value] }
        }
        return words.map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-=:,".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
