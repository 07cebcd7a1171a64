import Foundation

/// One measured round of a bench workload (qaft's own or a PyTorch peer's): its throughput and
/// resident memory.
struct WorkloadRate: Equatable {
    var tokensPerSecond: Double
    /// The timed call's own resident peak: VmHWM restarted after the warm-up (freed heap returned
    /// first), so the resident model, libraries and working set count and loading's transient does
    /// not. nil where the kernel refused the restart.
    var peakBytes: Int?
    /// A peer's whole-process peak, loading included; nil for qaft, whose process is the bench
    /// itself and spans all its sections.
    var processPeakBytes: Int? = nil

    /// Rounds summarized: the median tokens/s and the largest peak of each kind (nil when a round
    /// lacks it, so a summary never mixes peaks of different kinds).
    static func summary(_ rounds: [WorkloadRate]) -> WorkloadRate {
        precondition(!rounds.isEmpty, "a summary needs at least one round")
        func largest(_ peak: (WorkloadRate) -> Int?) -> Int? {
            let peaks = rounds.compactMap(peak)
            return peaks.count == rounds.count ? peaks.max() : nil
        }
        return WorkloadRate(tokensPerSecond: rounds.map(\.tokensPerSecond).sorted()[rounds.count / 2],
                            peakBytes: largest(\.peakBytes), processPeakBytes: largest(\.processPeakBytes))
    }

    /// "  523.1 tokens/s   peak 1.10 GB  (process 1.69 GB)".
    var formatted: String {
        func gigabytes(_ bytes: Int?) -> String { bytes.map { String(format: "%.2f GB", Double($0) / 1e9) } ?? "n/a" }
        return String(format: "%7.1f tokens/s   peak %@", tokensPerSecond, gigabytes(peakBytes) as NSString)
            + (processPeakBytes.map { "  (process \(gigabytes($0)))" } ?? "")
    }
}

/// A measured ratio against its target: "1.37× (target ≥ 1.2×) PASS", or as a percentage
/// "99.6 % (target ≥ 99 %) PASS".
struct TargetRatio {
    var value: Double
    var target: Double
    /// True when the value must reach the target from above (speed), false from below (memory).
    var atLeast: Bool
    var percent = false

    var passes: Bool { atLeast ? value >= target : value <= target }

    var formatted: String {
        let (scale, unit, digits) = percent ? (100.0, " %", Int32(1)) : (1.0, "×", Int32(2))
        return String(format: "%.*f%@ (target %@ %g%@) %@", digits, scale * value, unit as NSString, (atLeast ? "≥" : "≤") as NSString,
                      scale * target, unit as NSString, (passes ? "PASS" : "FAIL") as NSString)
    }
}
