import Foundation

/// The Slurm commands qaft uses (`sbatch`, `squeue`, `scancel`), run as processes: the cluster's
/// own client tools, configured as the user's shell has them (`SLURM_CONF`, PATH).
public enum Slurm {
    /// A job as `squeue` lists it.
    public struct Job: Equatable, Sendable {
        public var id: String
        /// `PENDING`, `RUNNING`, `COMPLETING`, …
        public var state: String
        /// The stage key it computes (qaft puts `qaft:<key>` in the job's comment).
        public var key: StageKey
        /// Where it runs (empty while pending).
        public var nodes: String
    }

    /// The comment that marks a job as computing `key`.
    static func comment(_ key: StageKey) -> String { "qaft:" + key.hex }

    /// qaft's jobs in the queue (pending, running, completing), by stage key.
    public static func queuedJobs() throws -> [StageKey: Job] {
        let out = try run("squeue", ["-h", "--me", "-o", "%i|%T|%k|%N"])
        var jobs: [StageKey: Job] = [:]
        for line in out.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, f[2].hasPrefix("qaft:") else { continue }
            let key = StageKey(hex: String(f[2].dropFirst(5)))
            jobs[key] = Job(id: f[0], state: f[1], key: key, nodes: f[3])
        }
        return jobs
    }

    /// The states of a job that has ended for good (`squeue -j ID -t all` still lists it for the
    /// cluster's `MinJobAge` seconds after its end; without `-t all` it lists nothing).
    static let endedStates: Set<String> = ["BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
                                           "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"]
    private static let endedLock = NSLock()
    nonisolated(unsafe) private static var endedAnswers: [String: (ended: Bool, asked: Date)] = [:]

    /// Whether Slurm reports job `id` as ended (cancelled, failed, timed out, …). False whenever it
    /// cannot tell: no Slurm here, or a job id it does not know (purged, or from another cluster),
    /// so a live job's claim is never freed on a guess; the heartbeat then decides. An ended job
    /// stays ended; a live answer is asked again after 5 s, so a runner polling a claim does not
    /// ask slurmctld ten times a second.
    /// `cluster` names the job's cluster when its claim recorded one: a job of another cluster than
    /// the one this host's Slurm commands reach is asked about with `squeue -M` (which needs the
    /// clusters to share a slurmdbd; when they do not, the answer is "cannot tell").
    public static func jobHasEnded(_ id: String, cluster: String? = nil, now: Date = Date()) -> Bool {
        let elsewhere = cluster.flatMap { $0 == localCluster ? nil : $0 }
        let memo = id + (elsewhere.map { "@" + $0 } ?? "")
        endedLock.lock()
        let known = endedAnswers[memo]
        endedLock.unlock()
        if let known, known.ended || now.timeIntervalSince(known.asked) < 5 { return known.ended }
        let options = (elsewhere.map { ["-M", $0] } ?? []) + ["-h", "-j", id, "-t", "all", "-o", "%T"]
        // With -M, squeue prints a "CLUSTER: name" line before the state.
        guard let state = try? run("squeue", options).split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) else { return false }
        let ended = endedStates.contains(state)
        endedLock.lock()
        endedAnswers[memo] = (ended, now)
        endedLock.unlock()
        return ended
    }

    /// The cluster this host's Slurm commands reach (`scontrol show config`'s ClusterName, kept
    /// once read), or nil while no Slurm answers.
    static var localCluster: String? {
        clusterLock.lock()
        defer { clusterLock.unlock() }
        if let knownCluster { return knownCluster }
        knownCluster = (try? run("scontrol", ["show", "config"]))?.split(separator: "\n")
            .first { $0.hasPrefix("ClusterName") }?.split(separator: "=", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        return knownCluster
    }
    private static let clusterLock = NSLock()
    nonisolated(unsafe) private static var knownCluster: String?

    /// Submits `script` (a shell command line); returns the job id.
    static func submit(_ arguments: [String], command: String) throws -> String {
        let id = try run("sbatch", ["--parsable"] + arguments + ["--wrap", command])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // `--parsable` prints `id` or `id;cluster`.
        return String(id.split(separator: ";").first ?? "")
    }

    /// Cancels jobs (ids); unknown or finished ones are ignored by Slurm.
    static func cancel(_ ids: [String]) throws {
        guard !ids.isEmpty else { return }
        _ = try run("scancel", ids)
    }

    /// Runs a Slurm client command; its stdout, or an error with its stderr.
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            throw PipelineError.slurm(command: tool, reason: "could not start: \(error.localizedDescription)")
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let message = String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PipelineError.slurm(command: ([tool] + arguments.prefix(3)).joined(separator: " "),
                                      reason: message.isEmpty ? "exit status \(p.terminationStatus)" : message)
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}
