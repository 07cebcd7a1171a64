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

    @Option(parsing: .singleValue,
            help: "Cores and memory (GB) of the jobs whose stage kind starts with KIND, as KIND=CORES:GB (repeatable; e.g. finetune.=4:16, evaluate-tasks=2:8). Default: fine-tuning and quantization 2:8, evaluation 1:4, loading and reports 1:2.")
    var resources: [String] = []

    @Option(help: "Folder for the jobs' logs, seen by every node (default: .cache/qaft-slurm-logs).")
    var logs: String?

    @Flag(help: "With slurm: return once the jobs are submitted instead of following them.")
    var detach = false

    func validate() throws { _ = try resourceOverrides() }

    /// `--resources` parsed: kind prefix → resources.
    func resourceOverrides() throws -> [String: StageResources] {
        var overrides: [String: StageResources] = [:]
        for text in resources {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            let numbers = parts.count == 2 ? parts[1].split(separator: ":").compactMap { Int($0) } : []
            guard parts.count == 2, !parts[0].isEmpty, numbers.count == 2, numbers.allSatisfy({ $0 > 0 }),
                  parts[1].split(separator: ":").count == 2 else {
                throw ValidationError("--resources \(text): expected KIND=CORES:GB with positive whole numbers, e.g. finetune.=4:16")
            }
            overrides[parts[0]] = StageResources(cores: numbers[0], memoryGB: numbers[1])
        }
        return overrides
    }

    func settings(root: URL) throws -> SlurmSettings {
        var s = SlurmSettings(logs: URL(fileURLWithPath: logs ?? ".cache/qaft-slurm-logs", relativeTo: root).standardizedFileURL)
        s.partition = partition
        s.account = account
        s.time = time
        s.qos = qos
        s.extraArguments = sbatch
        s.resourceOverrides = try resourceOverrides()
        return s
    }

    /// The command line of a job computing `st` of `target`: this same qaft binary and the same
    /// pipeline options, from the submitting directory (sbatch's default working directory).
    static func jobCommand(_ st: PlannedStage, target: String, options: PipelineOptions) -> String {
        let qaft = Bundle.main.executableURL?.path ?? CommandLine.arguments[0]
        var words = [qaft, "run-stage", st.key.hex, target, "--profile", options.profile.rawValue]
        for (flag, value) in [("--model", options.model), ("--cache", options.cacheOptions.cache), ("--artifacts", options.cacheOptions.artifacts),
                              ("--finetune-precision", options.finetunePrecision?.rawValue),
                              ("--scoring-precision", options.scoringPrecision?.rawValue)] {
            if let value { words += [flag, value] }
        }
        return words.map(shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-=:,".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
