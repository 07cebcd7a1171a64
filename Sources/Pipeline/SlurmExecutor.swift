import Foundation

/// Cores and memory one stage's job asks Slurm for.
public struct StageResources: Equatable, Sendable {
    public var cores: Int
    public var memoryGB: Int

    public init(cores: Int, memoryGB: Int) {
        self.cores = cores
        self.memoryGB = memoryGB
    }

    /// What a stage of `kind` needs on the default profile's models: quantizing and fine-tuning
    /// hold the model, its gradients or Hessians and use every core BLAS is given; an evaluation
    /// holds one model and a KV cache; loading and reporting are light.
    public static func defaults(kind: String) -> StageResources {
        if kind.hasPrefix("finetune.") || kind.hasPrefix("quantize.") { return StageResources(cores: 2, memoryGB: 8) }
        if kind == ReportStage.kindName || kind == LoadModelStage.kindName { return StageResources(cores: 1, memoryGB: 2) }
        return StageResources(cores: 1, memoryGB: 4)
    }
}

/// Where and how jobs are submitted: the `sbatch` options a cluster needs (`--partition`,
/// `--account`, `--time`, `--qos`, anything else verbatim), the shared folder for job logs, and
/// per-kind resources (`resources(kind:)`: the defaults unless `resourceOverrides` names the kind).
public struct SlurmSettings: Sendable {
    public var partition: String?
    public var account: String?
    public var time: String?
    public var qos: String?
    public var extraArguments: [String] = []
    public var logs: URL
    /// Resources by kind prefix (`finetune.`, `finetune.l4q`, `evaluate-tasks`, …); the longest
    /// prefix of a stage's kind wins over `StageResources.defaults(kind:)`.
    public var resourceOverrides: [String: StageResources] = [:]

    public init(logs: URL) { self.logs = logs }

    /// What a job computing a stage of `kind` asks for.
    public func resources(kind: String) -> StageResources {
        resourceOverrides.filter { kind.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value ?? StageResources.defaults(kind: kind)
    }

    /// What the job of `st` asks for: its kind's resources, except that the merge of a sharded
    /// evaluation only reads its parts' scores and the tokenizer (no weights), so it asks for what
    /// a report does unless `resourceOverrides` names its kind.
    func resources(_ st: PlannedStage) -> StageResources {
        guard EvaluationSharding.isMerge(st), !resourceOverrides.keys.contains(where: { st.kind.hasPrefix($0) }) else { return resources(kind: st.kind) }
        return StageResources.defaults(kind: ReportStage.kindName)
    }

    func arguments(for st: PlannedStage, dependencies: [String]) -> [String] {
        let r = resources(st)
        var a = ["--job-name=\(st.label)", "--comment=\(Slurm.comment(st.key))", "--cpus-per-task=\(r.cores)", "--mem=\(r.memoryGB)G",
                 "--output=\(logs.appendingPathComponent("\(st.key.short)-%j.log").path)",
                 // BLAS gets exactly the cores the job holds (never more threads than cores).
                 "--export=ALL,OPENBLAS_NUM_THREADS=\(r.cores)"]
        if !dependencies.isEmpty { a += ["--dependency=afterok:" + dependencies.joined(separator: ":"), "--kill-on-invalid-dep=yes"] }
        for (flag, value) in [("partition", partition), ("account", account), ("time", time), ("qos", qos)] {
            if let value { a.append("--\(flag)=\(value)") }
        }
        return a + extraArguments
    }

    /// The log of `job` computing `key`.
    public func log(_ key: StageKey, job: String) -> URL { logs.appendingPathComponent("\(key.short)-\(job).log") }
}

/// What a Slurm run reports as it goes.
public enum SlurmEvent: Sendable {
    case submitted(new: Int, alreadyQueued: Int, cached: Int)
    case progress(pending: Int, running: Int, done: Int, total: Int)
}

/// Runs a plan on a Slurm cluster: one job per stage not in the cache, each computing exactly that
/// stage with `qaft run-stage` (the local runner's code, claims included), ordered by
/// `--dependency=afterok` on the jobs of its inputs and cancelled by Slurm when one of those
/// fails (`--kill-on-invalid-dep=yes`). Stages already queued by an earlier submission (found by
/// the `qaft:<key>` comment) are depended on, not submitted again; two submissions at once are
/// serialized through the cache, so each stage is submitted once. Whether a stage succeeded is read
/// from the cache, never from Slurm's job state alone.
public final class SlurmExecutor {
    let cache: Cache
    let settings: SlurmSettings
    /// The shell command a job runs to compute one stage.
    let command: (PlannedStage) -> String
    let events: (SlurmEvent) -> Void
    /// Seconds between polls of the queue and the cache while waiting.
    public var pollInterval: TimeInterval = 1

    public init(cache: Cache, settings: SlurmSettings, command: @escaping (PlannedStage) -> String,
                events: @escaping (SlurmEvent) -> Void = { _ in }) {
        self.cache = cache
        self.settings = settings
        self.command = command
        self.events = events
    }

    /// Submits every stage of `plan` that is neither cached nor queued; returns the job of every
    /// stage still to compute (new or already queued).
    @discardableResult
    public func submit(_ plan: Plan) throws -> [StageKey: String] {
        try plan.record(in: cache)
        try FileManager.default.createDirectory(at: settings.logs, withIntermediateDirectories: true)
        // Two submissions at once would each miss the other's jobs in the queue and submit every
        // stage twice: the queue is read and the jobs submitted with every other submitter to this
        // cache locked out, so the later one finds the earlier one's jobs queued.
        let (jobs, new, cached) = try cache.db.serialized { x in
            let queued = try Slurm.queuedJobs()
            var jobs: [StageKey: String] = [:], new = 0, cached = 0
            for st in plan.stages {
                if try Cache.hasResult(st.key, in: x) { cached += 1; continue }
                if let job = queued[st.key] { jobs[st.key] = job.id; continue }
                let dependencies = st.inputs.values.compactMap { jobs[$0] }.sorted()
                jobs[st.key] = try Slurm.submit(settings.arguments(for: st, dependencies: dependencies), command: command(st))
                new += 1
            }
            return (jobs, new, cached)
        }
        events(.submitted(new: new, alreadyQueued: jobs.count - new, cached: cached))
        return jobs
    }

    /// Waits until every stage of `jobs` has its result in the cache. A job that leaves the queue
    /// without one ends the wait with an error naming its stage and log (Slurm has cancelled its
    /// dependents; independent jobs go on and their results stay cached for a rerun).
    public func wait(_ plan: Plan, jobs: [StageKey: String]) throws {
        var remaining = jobs
        let total = jobs.count
        var last: (Int, Int, Int)?
        while !remaining.isEmpty {
            // The queue before the cache: a job that left the queue has committed by then, if it ever will.
            let queued = try Slurm.queuedJobs()
            for (key, job) in remaining.sorted(by: { $0.key < $1.key }) {
                if try cache.result(key) != nil { remaining[key] = nil; continue }
                if queued[key]?.id == job { continue }
                if queued[key] != nil { remaining[key] = queued[key]!.id; continue }  // resubmitted by someone else
                let label = plan.stage(key)?.label ?? key.short
                throw PipelineError.slurm(command: "job \(job)", reason: "stage \(label) ended without a result; its log: "
                                          + settings.log(key, job: job).path + "; the jobs depending on it are cancelled")
            }
            let running = remaining.keys.filter { queued[$0]?.state == "RUNNING" || queued[$0]?.state == "COMPLETING" }.count
            let state = (remaining.count - running, running, total - remaining.count)
            if last.map({ $0 != state }) ?? true {
                events(.progress(pending: state.0, running: state.1, done: state.2, total: total))
                last = state
            }
            if !remaining.isEmpty { Thread.sleep(forTimeInterval: pollInterval) }
        }
    }

    /// Cancels the queued jobs of `plan`'s stages; returns their ids.
    @discardableResult
    public static func cancel(_ plan: Plan) throws -> [String] {
        let keys = Set(plan.stages.map(\.key))
        let ids = try Slurm.queuedJobs().values.filter { keys.contains($0.key) }.map(\.id).sorted()
        try Slurm.cancel(ids)
        return ids
    }
}
