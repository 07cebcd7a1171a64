import Foundation

/// `qaft status` and `qaft why`: reading a plan against the cache without running anything.
public struct PlanInspection {
    public let cache: Cache
    public let plan: Plan

    public init(cache: Cache, plan: Plan) {
        self.cache = cache
        self.plan = plan
    }

    public enum State: Equatable, Sendable {
        case cached(seconds: Double)
        case running(ClaimOwner)
        /// Would run; `resumable` when a checkpoint from a killed run exists.
        case wouldRun(resumable: Bool)
    }

    /// Each stage's state, in plan order.
    public func status() throws -> [(stage: PlannedStage, state: State)] {
        let claims = try cache.claims()
        return try plan.stages.map { st in
            if let r = try cache.result(st.key) { return (st, .cached(seconds: r.seconds)) }
            if let claim = claims[st.key], cache.isLive(claim) { return (st, .running(claim.owner)) }
            return (st, .wouldRun(resumable: cache.checkpoint(for: st.key).exists))
        }
    }

    /// How one planned stage differs from the last `reproduce` of its target.
    public struct Difference: Sendable {
        public let label: String
        /// nil: the label is new (no stage had it at the last run).
        public let changes: [KeyComponents.Change]?
        /// Labels of changed upstream stages this one only inherits a change from.
        public let upstream: [String]
    }

    /// For `target`: every stage whose key changed since its last recorded run, with the
    /// component(s) that changed. Changes inherited through an input are attributed to the
    /// upstream stage (named in `upstream`), so the root cause is printed once.
    public func why(target: String) throws -> [Difference] {
        let previous = Dictionary(try cache.recordedPlan(target: target, profile: plan.profile.rawValue).map { ($0.label, $0) },
                                  uniquingKeysWith: { a, _ in a })
        var changedKeys: [StageKey: String] = [:]
        var out: [Difference] = []
        for (label, key) in plan.labels[target] ?? [] {
            guard let st = plan.stage(key) else { continue }
            guard let old = previous[label] else {
                out.append(Difference(label: label, changes: nil, upstream: []))
                changedKeys[key] = label
                continue
            }
            if old.key == key { continue }
            changedKeys[key] = label
            let all = st.components.changes(since: old.components)
            let upstream = all.filter { $0.component.hasPrefix("input.") }.compactMap { c in c.new.flatMap { changedKeys[StageKey(hex: $0)] } }
            let own = all.filter { c in !(c.component.hasPrefix("input.") && c.new.flatMap { changedKeys[StageKey(hex: $0)] } != nil) }
            out.append(Difference(label: label, changes: own, upstream: upstream))
        }
        return out
    }

    /// The cached record of `row` of `target`: its last model-producing stage (`quantize.*` or
    /// `finetune.*`; a fine-tune after its quantization) whose label (`target/ROW/quantize`) is
    /// `row`, starts with `row/`, or whose ROW is `row` (the table's row label, as `qaft export`
    /// takes it). An unknown row names the target's model rows; a row not computed yet says so.
    public func modelRecord(target: String, row: String) throws -> (stage: PlannedStage, record: StageRecord) {
        let models = (plan.labels[target] ?? []).compactMap { entry in plan.stage(entry.key).map { (entry.label, $0) } }
            .filter { $0.1.kind.hasPrefix("quantize.") || $0.1.kind.hasPrefix("finetune.") }
        func rowLabel(_ label: String) -> String {
            let inTarget = label.hasPrefix(target + "/") ? label.dropFirst(target.count + 1) : Substring(label)
            return String(inTarget[..<(inTarget.lastIndex(of: "/") ?? inTarget.endIndex)])
        }
        guard let (_, stage) = models.last(where: { $0.0 == row || $0.0.hasPrefix(row + "/") || rowLabel($0.0) == row }) else {
            var known: [String] = []
            for (label, _) in models where !known.contains(rowLabel(label)) { known.append(rowLabel(label)) }
            throw PipelineError.unknownRow(row, target: target, known: known)
        }
        guard let record = try cache.result(stage.key) else {
            throw PipelineError.artifact(path: stage.key.hex, reason: "row \(row) (\(stage.label)) is not computed yet: run `qaft reproduce \(target)` first")
        }
        return (stage, record)
    }
}
