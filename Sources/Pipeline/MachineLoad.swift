import Foundation

/// What else ran on the machine while a stage timed something. A time or speed in a report means
/// something only if the measured work had the cores to itself; a stage that ran beside a build,
/// a test suite or another reproduction measures the contention instead. A `MachineLoad` is one
/// reading of the machine's core time (`/proc/stat`: busy and total ticks over all cores, the
/// hypervisor's steal counted as busy) and this process's own (`/proc/self/stat`: every thread's
/// user and system time, plus the children it waited for, such as `llama-bench`); two readings
/// give the share of all cores' time that other processes took in between.
///
/// A stage that times `metric` stores that share beside it as `metric_otherLoad` (the `_stderr`
/// convention); the report names every timed cell taken beside other work, or cached before the
/// share was recorded, and judges no claim on it; `qaft reproduce --retime` measures such stages
/// again.
public struct MachineLoad: Sendable {
    let busyTicks: Int
    let totalTicks: Int
    let ownTicks: Int

    /// The current reading, or nil where `/proc` cannot be read (not Linux).
    public static func now() -> MachineLoad? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let cpu = stat.split(separator: "\n").first, cpu.hasPrefix("cpu "),
              let own = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let comm = own.lastIndex(of: ")") else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is inside user already).
        let t = cpu.split(separator: " ").dropFirst().prefix(8).compactMap { Int($0) }
        // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
        let f = own[own.index(after: comm)...].split(separator: " ")
        guard t.count == 8, f.count > 14 else { return nil }
        let times = f[11...14].compactMap { Int($0) }
        guard times.count == 4 else { return nil }
        let idle = t[3] + t[4]
        return MachineLoad(busyTicks: t.reduce(0, +) - idle, totalTicks: t.reduce(0, +), ownTicks: times.reduce(0, +))
    }

    /// The share (0 … 1) of all cores' time since `start` that other processes used; 0 when no
    /// time passed.
    public func othersShare(since start: MachineLoad) -> Double {
        let total = totalTicks - start.totalTicks
        guard total > 0 else { return 0 }
        let others = (busyTicks - start.busyTicks) - (ownTicks - start.ownTicks)
        return min(1, max(0, Double(others) / Double(total)))
    }

    /// Above this share of the cores taken by others, a timing is reported as taken beside other
    /// work. Kernel threads and an idle shell stay well under it.
    public static let quietBelow = 0.05

    /// The metric holding the others' share while `metric` was timed.
    public static func loadMetric(of metric: String) -> String { metric + "_otherLoad" }

    /// Whether `metric` is a time or speed measured on this machine (a stage records its load).
    public static func isTimed(_ metric: String) -> Bool {
        timedMetrics.contains(metric) || metric.hasPrefix("throughputBatch")
    }

    static let timedMetrics: Set = ["trainSeconds", "stepSeconds", "tokensPerSecond", "decodeTokensPerSecond", "prefillTokensPerSecond"]

    /// Why the timed `metric` of a stage's `metrics` cannot be trusted, or nil when it was timed
    /// with the cores to itself (or `metric` is no timing).
    public static func doubt(_ metric: String, in metrics: [String: Double]) -> String? {
        guard isTimed(metric), metrics[metric] != nil else { return nil }
        if metric == "trainSeconds", let step = metrics[resumedAtStep] {
            return "resumed from a checkpoint at step \(Int(step)): the time covers only the steps after it"
        }
        guard let share = metrics[loadMetric(of: metric)] else {
            return "timed before qaft recorded the machine's load (rerun with --retime)"
        }
        guard share >= quietBelow else { return nil }
        return String(format: "timed beside other work: other processes took %.0f %% of the cores", share * 100)
    }

    /// The step a fine-tune resumed from (absent when it ran from step 0): its `trainSeconds` then
    /// covers only the steps after it.
    public static let resumedAtStep = "resumedAtStep"

    /// `metrics` with the others' share since `start` recorded for each of `timed` it holds.
    public static func record(since start: MachineLoad?, for timed: [String], in metrics: inout [String: Double]) {
        guard let start, let end = now() else { return }
        let share = end.othersShare(since: start)
        for m in timed where metrics[m] != nil { metrics[loadMetric(of: m)] = share }
    }
}
