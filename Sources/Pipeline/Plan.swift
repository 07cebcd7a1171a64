import Foundation

/// A stage as the planner describes it before keys exist (inputs are nested descriptions).
struct StageSpec {
    var label: String
    var kind: String
    var parameters: [String: Value]
    var inputs: [String: StageSpec]
    var files: [String: URL]
}

/// A stage with its key: ready for the runner.
public struct PlannedStage: Sendable {
    /// Where it sits in the manifest, e.g. `tinytable/fp32/ppl-w64` (not part of the key; the
    /// first manifest position wins when stages are shared).
    public let label: String
    public let kind: String
    public let key: StageKey
    public let components: KeyComponents
    /// The stage's settings as its job receives them.
    public let settings: CanonicalSettings
    public let inputs: [String: StageKey]
    public let files: [String: URL]
    public let seed: UInt64
}

/// The deduplicated stage graph of one or more manifests, in dependency order.
public struct Plan: Sendable {
    public let targets: [String]
    public let profile: Profile
    public private(set) var stages: [PlannedStage] = []
    /// The report stage of each manifest (by manifest id).
    public private(set) var reports: [String: StageKey] = [:]
    /// Manifest id → every label it planned (shared stages appear in each manifest's list).
    public private(set) var labels: [String: [(label: String, key: StageKey)]] = [:]
    private var index: [StageKey: Int] = [:]

    init(targets: [String], profile: Profile) {
        self.targets = targets
        self.profile = profile
    }

    public func stage(_ key: StageKey) -> PlannedStage? { index[key].map { stages[$0] } }

    /// The stage of `key` and every stage it reads, directly or not, in dependency order: what one
    /// job runs to compute that stage alone (its inputs then come from the cache). It has no
    /// targets, so running it records no plan for `qaft why`.
    public func closure(of key: StageKey) -> Plan {
        var keep = Set<StageKey>(), todo = [key]
        while let k = todo.popLast() {
            if keep.insert(k).inserted, let st = stage(k) { todo += st.inputs.values }
        }
        var sub = Plan(targets: [], profile: profile)
        for st in stages where keep.contains(st.key) {
            sub.index[st.key] = sub.stages.count
            sub.stages.append(st)
        }
        return sub
    }

    /// The most stages on one dependency path: the number of jobs that must run one after
    /// another however many nodes a cluster gives the plan.
    public var longestChain: Int {
        var depth: [StageKey: Int] = [:]
        // Stages are in dependency order, so every input's depth is known when a stage is reached.
        for st in stages { depth[st.key] = 1 + (st.inputs.values.compactMap { depth[$0] }.max() ?? 0) }
        return depth.values.max() ?? 0
    }

    /// Records each target's stages in `cache`, for `qaft why` (both executors do, before running).
    func record(in cache: Cache) throws {
        for target in targets {
            let recorded = (labels[target] ?? []).map { RecordedStage(label: $0.label, key: $0.key, components: stage($0.key)!.components) }
            try cache.recordPlan(target: target, profile: profile.rawValue, stages: recorded)
        }
    }

    /// Adds `spec` and its inputs (depth first, so inputs come first); returns its key.
    mutating func add(_ spec: StageSpec, manifest: String, seed: UInt64, registry: StageRegistry,
                      digests: inout [URL: String]) throws -> StageKey {
        var inputKeys: [String: StageKey] = [:]
        for (name, input) in spec.inputs.sorted(by: { $0.key < $1.key }) {
            inputKeys[name] = try add(input, manifest: manifest, seed: seed, registry: registry, digests: &digests)
        }
        var fileHashes: [String: String] = [:]
        for (name, url) in spec.files {
            if digests[url] == nil { digests[url] = try FileDigest.content(of: url) }
            fileHashes[name] = digests[url]
        }
        guard let stage = registry.stage(spec.kind) else {
            throw PipelineError.stageFailed(stage: spec.label, reason: "no stage registered as \(spec.kind)")
        }
        for name in stage.inputNames where spec.inputs[name] == nil {
            throw PipelineError.missingInput(stage: spec.label, input: name)
        }
        let stageSeed = stage.isStochastic ? seed : 0
        let settings: CanonicalSettings
        do { settings = try stage.settings(from: spec.parameters).0 } catch let e as StageParameterError {
            throw PipelineError.stageFailed(stage: spec.label, reason: e.description)
        }
        let components = KeyComponents(kind: spec.kind, version: stage.version, seed: stageSeed, settings: settings,
                                       inputs: inputKeys, files: fileHashes)
        let key = components.key
        // A row's model chain is an input of each of its cells, so the same stage arrives once per cell.
        if !(labels[manifest] ?? []).contains(where: { $0.label == spec.label }) { labels[manifest, default: []].append((spec.label, key)) }
        if index[key] == nil {
            index[key] = stages.count
            stages.append(PlannedStage(label: spec.label, kind: spec.kind, key: key, components: components,
                                       settings: settings, inputs: inputKeys, files: spec.files, seed: stageSeed))
        }
        if spec.kind == ReportStage.kindName { reports[manifest] = key }
        return key
    }
}
