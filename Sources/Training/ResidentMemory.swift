import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's resident memory from `/proc/self/status`: the peak (VmHWM, the figure
/// `/usr/bin/time` reports as max RSS) and the current set (VmRSS), in bytes (0 where the file is
/// unavailable). Fine-tuning stages measure their own peak in a shared process with `resetPeak`.
public enum ResidentMemory {
    public static func peakBytes() -> Int { field("VmHWM:") }

    public static func currentBytes() -> Int { field("VmRSS:") }

    /// Returns freed heap pages to the system (glibc `malloc_trim`) and restarts the peak at the
    /// current resident set (Linux `clear_refs` 5), so a later `peakBytes` measures only what
    /// follows. Returns false when the kernel refuses (the peak then still spans the process).
    @discardableResult
    public static func resetPeak() -> Bool {
        _ = mallocTrim?(0)
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (nil on other C libraries).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    private static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}
