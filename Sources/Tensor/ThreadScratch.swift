import Foundation

/// Scratch buffers owned by the calling thread, kept for its lifetime: a product that rounds its
/// operands on whichever core runs it (the caller, `SecondCore`'s worker, an evaluator's worker)
/// reuses warm pages instead of mapping and faulting in fresh ones on every call, and two threads
/// never share one. Released when the thread exits.
public final class ThreadScratch {
    /// Room for a bf16 product's rounded left and right operands.
    public let left = ScratchBuffer<UInt16>(), right = ScratchBuffer<UInt16>()
    /// Room for fp32 values a pass makes only to round them to bf16 a block at a time (a weight
    /// block that stays in L2 instead of being written to a layer-sized buffer in memory).
    public let staging = ScratchBuffer<Float>()
    /// Room for bf16 operands a caller rounds once for several products (attention's Q, K, V, P…).
    public let operands = ScratchBuffer<UInt16>()

    private init() {}

    /// This thread's scratch (created on first use).
    public static var current: ThreadScratch {
        if let p = pthread_getspecific(key) { return Unmanaged<ThreadScratch>.fromOpaque(p).takeUnretainedValue() }
        let s = ThreadScratch()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in p.map { Unmanaged<ThreadScratch>.fromOpaque($0).release() } }
        return key
    }()
}
