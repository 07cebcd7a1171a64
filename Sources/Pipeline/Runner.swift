import Foundation

/// What a run reports as it goes; the CLI renders these, tests ignore them.
public enum RunEvent: Sendable {
    /// `toCompute` of `total` stages are not cached.
    case planned(total: Int, toCompute: Int)
    case started(label: String, kind: String, number: Int, of: Int)
    case resumed(label: String, fromUnits: Int)
    /// The claim of a dead (or, on another host, silent) owner was taken over.
    case tookOver(label: String, previous: ClaimOwner)
    /// `etaSeconds`: the whole run's remaining time, when it can be estimated.
    case progress(label: String, done: Int, total: Int, etaSeconds: Double?, detail: String?)
    case waiting(label: String, owner: ClaimOwner)
    case finished(label: String, seconds: Double, computed: Bool)
}

/// What a run did.
public struct RunSummary: Sendable {
    /// Keys computed by this process.
    public var computed: [StageKey] = []
    /// Keys found in the cache (or computed meanwhile by another process).
    public var reused: [StageKey] = []
}

/// Executes a plan against the cache. Each stage is claimed before it runs, so concurrent runs
/// on one cache never compute a key twice: a stage claimed by a live process is waited for
/// (other ready stages run meanwhile), a claim of a dead process is taken over. Claims name host
/// and Slurm job, so runs on many hosts sharing a PostgreSQL cache coordinate the same way.
public final class Runner {
    let cache: Cache
    let registry: StageRegistry
    let events: (RunEvent) -> Void
    /// Seconds between heartbeats of a claim while its stage runs.
    public var heartbeatInterval: TimeInterval = 5

    public init(cache: Cache, registry: StageRegistry = .standard, events: @escaping (RunEvent) -> Void = { _ in }) {
        self.cache = cache
        self.registry = registry
        self.events = events
    }

    /// Runs every stage of `plan` not yet cached; records each target's plan for `qaft why`.
    @discardableResult
    public func run(_ plan: Plan) throws -> RunSummary {
        try plan.record(in: cache)
        var pending = plan.stages
        var done = Set<StageKey>()
        var summary = RunSummary()
        var toCompute = try pending.filter { try cache.result($0.key) == nil }.count
        events(.planned(total: pending.count, toCompute: toCompute))
        let estimates = try Dictionary(uniqueKeysWithValues: Set(pending.map(\.kind)).map { ($0, try cache.meanSeconds(kind: $0)) })
        var number = 0, announcedWaits = Set<StageKey>()
        while !pending.isEmpty {
            var progressed = false
            for st in pending where st.inputs.values.allSatisfy(done.contains) {
                if try usableResult(st.key) != nil {
                    summary.reused.append(st.key)
                    events(.finished(label: st.label, seconds: 0, computed: false))
                } else {
                    switch try cache.claim(st.key) {
                    case .done:
                        summary.reused.append(st.key)
                    case .heldBy(let owner):
                        if announcedWaits.insert(st.key).inserted { events(.waiting(label: st.label, owner: owner)) }
                        continue
                    case .acquired(let previous):
                        if let previous { events(.tookOver(label: st.label, previous: previous)) }
                        number += 1
                        let remaining = pending.filter { !done.contains($0.key) && $0.key != st.key }
                        let later = remaining.reduce(0.0) { $0 + (estimates[$1.kind].flatMap { $0 } ?? 0) }
                        try compute(st, number: number, of: toCompute, laterSeconds: later)
                        summary.computed.append(st.key)
                    }
                }
                done.insert(st.key)
                progressed = true
            }
            pending.removeAll { done.contains($0.key) }
            if !progressed { Thread.sleep(forTimeInterval: 0.1) }
            toCompute = max(toCompute, number)
        }
        return summary
    }

    /// The cached result of `key`, unless its artifact has vanished (then the row is dropped so
    /// the stage runs again).
    private func usableResult(_ key: StageKey) throws -> StageRecord? {
        guard let r = try cache.result(key) else { return nil }
        if let u = r.artifactURL, !FileManager.default.fileExists(atPath: u.path) {
            try cache.deleteResult(key)
            return nil
        }
        return r
    }

    private func compute(_ st: PlannedStage, number: Int, of total: Int, laterSeconds: Double) throws {
        guard let stage = registry.stage(st.kind) else {
            throw PipelineError.stageFailed(stage: st.label, reason: "no stage registered as \(st.kind)")
        }
        events(.started(label: st.label, kind: st.kind, number: number, of: total))
        let log = try cache.logStart(key: st.key, kind: st.kind, label: st.label)
        let heartbeat = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        heartbeat.schedule(deadline: .now() + heartbeatInterval, repeating: heartbeatInterval)
        heartbeat.setEventHandler { [cache] in try? cache.heartbeat(st.key) }
        heartbeat.resume()
        defer { heartbeat.cancel() }
        let staging = try cache.store.makeStaging(for: st.key)
        do {
            var inputs: [String: StageRecord] = [:]
            for (name, key) in st.inputs {
                guard let r = try cache.result(key) else { throw PipelineError.missingInput(stage: st.label, input: name) }
                inputs[name] = r
            }
            let started = Date()
            let context = StageContext(
                label: st.label, key: st.key, seed: st.seed, inputs: inputs, files: st.files,
                artifactDirectory: staging, checkpoint: cache.checkpoint(for: st.key),
                resumed: { [events, cache] units in
                    try? cache.logResumed(log, from: units)
                    events(.resumed(label: st.label, fromUnits: units))
                },
                reportProgress: { [events] done, total, detail in
                    let elapsed = Date().timeIntervalSince(started)
                    let eta = done > 0 ? elapsed / Double(done) * Double(total - done) + laterSeconds : nil
                    events(.progress(label: st.label, done: done, total: total, etaSeconds: eta, detail: detail))
                })
            let output = try stage.run(st.settings, context)
            // The cache stores JSON, which has no NaN or infinity; a non-finite result is a failed stage.
            let results = output.metrics.map { ($0.key, [$0.value]) } + output.series.map { ($0.key, $0.value) }
            for (name, values) in results.sorted(by: { $0.0 < $1.0 }) {
                if let bad = values.first(where: { !$0.isFinite }) {
                    throw PipelineError.stageFailed(stage: st.label, reason: "result \(name) is \(bad)")
                }
            }
            let artifact = try cache.store.publish(staging)
            let seconds = Date().timeIntervalSince(started)
            try cache.commit(key: st.key, kind: st.kind, label: st.label, components: st.components, output: output,
                             artifact: artifact, seconds: seconds, computation: log)
            try context.checkpoint.remove()
            events(.finished(label: st.label, seconds: seconds, computed: true))
        } catch {
            try? FileManager.default.removeItem(at: staging)
            try? cache.release(st.key)
            throw error
        }
    }
}
