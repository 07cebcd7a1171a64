import Foundation

/// Wall-clock timing for the speed measurements (`make bench`, decode-speed stages).
public enum Stopwatch {
    /// Median wall time of `body` in seconds over `repeats` (≥ 1) calls, after one warm-up call
    /// that fills caches and lets lazy allocations happen outside the measurement.
    public static func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return times.sorted()[times.count / 2]
    }
}
