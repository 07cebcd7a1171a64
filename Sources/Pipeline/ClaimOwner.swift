import Foundation

/// Who computes a stage: a process on a host, within a Slurm job when there is one. A pid means
/// something only on its own host, so liveness is judged by pid there and by heartbeat elsewhere.
public struct ClaimOwner: Sendable, Hashable, CustomStringConvertible {
    public let pid: Int32
    /// `gethostname()` of the owner; empty for claims written before hosts were recorded (those
    /// came from a local SQLite cache, so they are judged as this host's).
    public let host: String
    /// The owner's Slurm job, `$SLURM_JOB_ID@$SLURM_CLUSTER_NAME` (a job id means something only
    /// on its own cluster, and several clusters may share one PostgreSQL cache); just the id for
    /// claims written before clusters were recorded; empty outside Slurm.
    public let job: String

    public init(pid: Int32, host: String, job: String = "") {
        self.pid = pid
        self.host = host
        self.job = job
    }

    /// This process.
    public static let current: ClaimOwner = {
        let env = ProcessInfo.processInfo.environment
        let job = (env["SLURM_JOB_ID"] ?? "") + (env["SLURM_JOB_ID"] != nil ? env["SLURM_CLUSTER_NAME"].map { "@" + $0 } ?? "" : "")
        return ClaimOwner(pid: getpid(), host: hostName, job: job)
    }()

    /// `job` split into the job id and its cluster (nil when not recorded).
    public var slurmJob: (id: String, cluster: String?) {
        let parts = job.split(separator: "@", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count == 2 ? parts[1] : nil)
    }

    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(cString: buffer)
    }()

    /// Whether the owner runs on this host (where its pid can be asked about).
    public var isLocal: Bool { host.isEmpty || host == Self.hostName }

    public var description: String {
        "process \(pid)" + (isLocal ? "" : " on \(host)")
            + (job.isEmpty ? "" : " (Slurm job \(slurmJob.id)" + (slurmJob.cluster.map { " on cluster \($0)" } ?? "") + ")")
    }
}

/// A row of `claims`: who holds a key and when it last proved alive.
public struct Claim: Sendable, Equatable {
    public let owner: ClaimOwner
    public let heartbeat: Date

    /// Live: its heartbeat is recent and, on this host, its process exists, or elsewhere, its
    /// Slurm job (if any) has not ended. A hung process or a reused pid is caught by the heartbeat;
    /// a dead one on this host at once by its pid; a cancelled, failed or timed-out job on another
    /// node at once by Slurm's word (`Slurm.jobHasEnded`), not after `staleAfter`.
    public func isLive(staleAfter: TimeInterval, now: Date = Date()) -> Bool {
        if now.timeIntervalSince(heartbeat) >= staleAfter { return false }
        if owner.isLocal { return ProcessLiveness.isAlive(owner.pid) }
        return owner.job.isEmpty || !Slurm.jobHasEnded(owner.slurmJob.id, cluster: owner.slurmJob.cluster, now: now)
    }
}
