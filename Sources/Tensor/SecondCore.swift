import Foundation
import Synchronization

/// Splits a short data-parallel job over the machine's two cores during batch-1 decode.
///
/// Decode is a chain of matrix–vector products of 5–40 µs each: too short for OpenBLAS's own
/// threading (or a GCD hand-off, ≈ 10 µs) to pay, yet they are half the decode time. Inside
/// `splitting { }` OpenBLAS is held to one thread and `run` executes part 0 on the calling thread
/// and part 1 on a persistent worker that spins between jobs, so a hand-off costs well under a
/// microsecond (after a few microseconds of spinning both sides yield the core on every poll, so
/// a busy machine does not turn the split into two threads spinning for one core). Outside that scope `run` is serial and the worker sleeps, leaving both cores to
/// OpenBLAS: the thread count never exceeds two.
public final class SecondCore: @unchecked Sendable {
    public static let shared = SecondCore()

    /// Jobs posted and jobs the worker has finished (it runs them one at a time, in order).
    private let posted = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    /// Open `splitting` scopes; the worker spins only while one is open.
    private let scopes = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(false)
    private let wake = NSCondition()
    private let caller = Mutex(())
    /// Part 1 of the posted job; written before `posted` is released, read after it is acquired.
    private var job: ((Int) -> Void)?

    private init() {
        let t = Thread { [unowned self] in self.work() }
        t.name = "qaft.second-core"
        t.start()
    }

    /// Whether `run` currently splits its jobs.
    public var isSplitting: Bool { scopes.load(ordering: .relaxed) > 0 }

    /// Runs `body` with OpenBLAS on one thread and `run` splitting over the two cores. Meant for a
    /// decode loop; scopes nest, and OpenBLAS's thread count is restored when the outermost ends.
    public func splitting<T>(_ body: () throws -> T) rethrows -> T {
        let blasThreads = BLAS.threads
        if scopes.add(1, ordering: .sequentiallyConsistent).newValue == 1 { BLAS.setThreads(1) }
        defer {
            if scopes.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { BLAS.setThreads(blasThreads) }
        }
        return try body()
    }

    /// Runs `body(0)` and `body(1)` and returns when both have returned: on the two cores inside a
    /// `splitting` scope, else (or when another caller holds the worker) one after the other here.
    public func run(_ body: (Int) -> Void) {
        let ran: Void? = isSplitting ? caller.withLockIfAvailable { _ in
            withoutActuallyEscaping(body) { body in
                job = body
                let n = posted.add(1, ordering: .sequentiallyConsistent).newValue
                if sleeping.load(ordering: .sequentiallyConsistent) {
                    wake.lock()
                    wake.signal()
                    wake.unlock()
                }
                body(0)
                Self.wait { finished.load(ordering: .acquiring) >= n }
                job = nil
            }
        } : nil
        if ran == nil {
            body(0)
            body(1)
        }
    }

    /// Runs `body` over `0..<count` as two halves on the two cores (OpenBLAS on one thread each
    /// meanwhile) when OpenBLAS may use both — not inside another split or on a one-thread worker,
    /// so the thread count never exceeds two — else over the whole range here. For passes whose
    /// elements are independent, so the split changes no result.
    public func halves(_ count: Int, _ body: (Range<Int>) -> Void) {
        guard BLAS.threads > 1 else { return body(0..<count) }
        let half = count / 2
        splitting { run { body($0 == 0 ? 0..<half : half..<count) } }
    }

    /// `halves` for a pass over `rows` rows of `width` values each (independent rows, or
    /// independent values when `width` is 1), split only when the pass is long enough (2¹⁶ values)
    /// for the hand-off to pay. With `block`, the split falls on a multiple of `block` rows: a SIMD
    /// pass over a flat array (`width` 1, `block` its vector width) then runs exactly the vectors
    /// and scalar tail it runs unsplit.
    public func halves(rows: Int, width: Int, block: Int = 1, _ body: (Range<Int>) -> Void) {
        guard rows * width >= Self.splitValues else { return body(0..<rows) }
        let blocks = (rows + block - 1) / block
        halves(blocks) { body($0.lowerBound * block..<Swift.min(rows, $0.upperBound * block)) }
    }

    /// The cores jobs are split over: per-core scratch has this many parts.
    public static let cores = 2

    /// The shortest pass `halves(rows:width:)` splits.
    public static let splitValues = 1 << 16

    /// Runs `body(item, core)` for every item of `0..<count`, each of the two cores taking the next
    /// unclaimed item until none is left (so items of unequal cost balance), `core` (0 or 1)
    /// naming the scratch the item may use. Where OpenBLAS may use only one thread (inside another
    /// split, on a one-thread worker) every item runs here, as core 0. For items whose results do
    /// not depend on the core or the order they run in; products inside an item stay on its core.
    public func share(_ count: Int, _ body: (_ item: Int, _ core: Int) -> Void) {
        guard BLAS.threads > 1, count > 1 else {
            for i in 0..<count { body(i, 0) }
            return
        }
        let next = Atomic<Int>(0)
        splitting {
            run { core in
                while case let i = next.add(1, ordering: .relaxed).oldValue, i < count { body(i, core) }
            }
        }
    }

    /// Polls `done` until it holds. Past `spinPolls` polls (a few microseconds, longer than a
    /// balanced hand-off takes) each poll also yields the core: when another process holds the
    /// other core, the partner thread is waiting for this one, and a pure spin would starve it.
    @inline(__always) private static func wait(until done: () -> Bool) {
        var polls = 0
        while !done() {
            polls += 1
            if polls > spinPolls { sched_yield() }
        }
    }

    private static let spinPolls = 2_000

    private func work() {
        var seen = 0, polls = 0
        while true {
            while posted.load(ordering: .acquiring) == seen {
                if isSplitting {
                    polls += 1
                    if polls > Self.spinPolls { sched_yield() }
                    continue
                }
                // Announce the sleep, then re-check under the lock the poster signals under: either
                // the poster sees `sleeping` or this thread sees the new job (both are sequentially
                // consistent), so no wake-up is lost.
                wake.lock()
                sleeping.store(true, ordering: .sequentiallyConsistent)
                while posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                wake.unlock()
            }
            seen += 1
            polls = 0
            job!(1)
            finished.store(seen, ordering: .releasing)
        }
    }
}
