import Foundation

/// `qaft reproduce --retime`: measure again every stage of a plan whose time or speed cannot be
/// trusted (`MachineLoad.doubt`: timed beside other work, resumed, or cached before the load was
/// recorded), on a machine left alone this time. Those stages' results and the plan's reports
/// (which read them) are dropped from the cache, so the run computes them again under the same
/// keys. Everything else computed from a dropped stage (an evaluation of its model, in this target
/// or another) stays cached: stages are deterministic, so the stage writes the artifact it wrote
/// before, and `verify` checks that it did.
public struct Retiming {
    /// A dropped stage, with the artifact its dropped result had.
    public struct Dropped: Sendable {
        public let label: String
        public let key: StageKey
        public let artifact: String?
    }

    /// The timed stages dropped (reports not listed).
    public let dropped: [Dropped]

    /// Drops `plan`'s stages with a timed metric in doubt, and (when any was) the plan's reports.
    public static func forget(in plan: Plan, cache: Cache) throws -> Retiming {
        var dropped: [Dropped] = []
        for st in plan.stages where st.kind != ReportStage.kindName {
            guard let r = try cache.result(st.key),
                  r.output.metrics.keys.contains(where: { MachineLoad.doubt($0, in: r.output.metrics) != nil }) else { continue }
            try cache.deleteResult(st.key)
            dropped.append(Dropped(label: st.label, key: st.key, artifact: r.artifact))
        }
        if !dropped.isEmpty {
            for key in plan.reports.values { try cache.deleteResult(key) }
        }
        return Retiming(dropped: dropped)
    }

    /// Checks that every dropped stage, computed again, wrote the same artifact as before; throws
    /// naming the first that did not (what was computed from the old artifact no longer matches).
    public func verify(_ cache: Cache) throws {
        for d in dropped {
            guard let now = try cache.result(d.key) else { continue }
            if now.artifact != d.artifact {
                throw PipelineError.stageFailed(
                    stage: d.label, reason: "measured again (--retime), it wrote artifact \(now.artifact ?? "none") where its cached result "
                        + "had \(d.artifact ?? "none"): the stage is not deterministic, so results computed from the old artifact "
                        + "(its evaluations) no longer match it")
            }
        }
    }
}
