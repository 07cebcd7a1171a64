import Foundation

/// Renders progress on stderr: one line rewritten in place on a terminal, plain lines otherwise
/// (so CI logs stay readable: a line at each further 5 % of the work, at least every 30 s, and at
/// the end). Commands pass `quiet` through and get nothing.
final class Progress {
    let label: String
    let quiet: Bool
    let started = Date()
    private static let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private var lastTwentieth = -1
    /// Units already done when this process started (a resumed run): the rate and ETA count only
    /// the units done since.
    var resumedAt = 0

    init(_ label: String, quiet: Bool, resumedAt: Int = 0) {
        self.label = label
        self.quiet = quiet
        self.resumedAt = resumedAt
    }

    /// Reports `done` of `total` units; `extra` is appended (e.g. a running loss).
    func update(_ done: Int, of total: Int, unit: String, extra: String = "") {
        if quiet { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(max(done - resumedAt, 0)) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "%@ %d/%d %@ · %.1f %@/s · %@ elapsed · ETA %@%@", label, done, total, unit, rate, unit,
                          Self.clock(elapsed), Self.clock(eta), extra.isEmpty ? "" : " · " + extra)
        if Self.isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done == total ? "\n" : "")).utf8))
            return
        }
        let twentieth = total > 0 ? done * 20 / total : 0
        if done == total || twentieth > lastTwentieth || Date().timeIntervalSince(lastLine) >= 30 {
            FileHandle.standardError.write(Data((line + "\n").utf8))
            lastTwentieth = twentieth
            lastLine = Date()
        }
    }

    static func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
