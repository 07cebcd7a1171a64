import Foundation

/// Renders progress on stderr: one line rewritten in place on a terminal, plain lines otherwise
/// (so CI logs stay readable). Commands pass `quiet` through and get nothing.
struct Progress {
    let label: String
    let quiet: Bool
    let started = Date()
    private static let isTerminal = isatty(STDERR_FILENO) != 0

    init(_ label: String, quiet: Bool) {
        self.label = label
        self.quiet = quiet
    }

    /// Reports `done` of `total` units; `extra` is appended (e.g. a running loss).
    func update(_ done: Int, of total: Int, unit: String, extra: String = "") {
        if quiet { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "%@ %d/%d %@ · %.1f %@/s · %@ elapsed · ETA %@%@", label, done, total, unit, rate, unit,
                          Self.clock(elapsed), Self.clock(eta), extra.isEmpty ? "" : " · " + extra)
        if Self.isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done == total ? "\n" : "")).utf8))
        } else if done == total || done % Swift.max(1, total / 20) == 0 {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
