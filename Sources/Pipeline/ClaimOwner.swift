import Foundation

/// Who computes a stage: a process on a host, within a Slurm job when there is one. A pid means
/// something only on its own host, so liveness is judged by pid there and by heartbeat elsewhere.
public struct ClaimOwner: Sendable, Hashable, CustomStringConvertible {
    public let pid: Int32
    /// `gethostname()` of the owner; empty for claims written before hosts were recorded (those
    /// came from a local SQLite cache, so they are judged as this host's).
    public let host: String
    /// `$SLURM_JOB_ID` of the owner, empty outside Slurm.
    public let job: String

    public init(pid: Int32, host: String, job: String = "") {
        self.pid = pid
        self.host = host
        self.job = job
    }

    /// This process.
    public static let current = ClaimOwner(pid: getpid(), host: hostName, job: ProcessInfo.processInfo.environment["SLURM_JOB_ID"] ?? "")

    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(cString: buffer)
    }()

    /// Whether the owner runs on this host (where its pid can be asked about).
    public var isLocal: Bool { host.isEmpty || host == Self.hostName }

    public var description: String {
        "process \(pid)" + (isLocal ? "" : " on \(host)") + (job.isEmpty ? "" : " (Slurm job \(job))")
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
        return owner.job.isEmpty || !Slurm.jobHasEnded(owner.job, now: now)
    }
}
