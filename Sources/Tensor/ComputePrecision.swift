import Synchronization

/// The arithmetic of the large matrix products: fp32 throughout, or the mixed-precision recipe the
/// papers train in (bf16 operands, fp32 accumulation; master weights, optimizer state, norms,
/// softmax, loss and reductions stay fp32).
///
/// A stage runs its work inside `ComputePrecision.with(_:)`; the dense products read `current`.
/// bf16 needs a CPU with AVX512_BF16 or AMX: elsewhere a request for it runs in fp32, and
/// `effective(_:)` says so (set `QAFT_FORCE_FP32=1` to force that fallback on any CPU).
public enum ComputePrecision: String, Codable, Sendable, CaseIterable {
    case fp32
    case bf16

    private static let active = Atomic<Int>(0)

    /// The precision the products use now (fp32 outside any `with` scope).
    public static var current: ComputePrecision { active.load(ordering: .relaxed) == 1 ? .bf16 : .fp32 }

    /// Why bf16 products cannot run in this process (no AVX512_BF16/AMX, or `QAFT_FORCE_FP32`), or
    /// nil when they can.
    public static var bf16Unavailable: String? { BF16.unavailableReason }

    /// The precision a request for `requested` gets here, and why it differs when it does: bf16
    /// falls back to fp32 where bf16 products cannot run. A stage records both.
    public static func effective(_ requested: ComputePrecision) -> (precision: ComputePrecision, reason: String?) {
        guard requested == .bf16, let reason = bf16Unavailable else { return (requested, nil) }
        return (.fp32, "bf16 requested, fp32 used: " + reason)
    }

    /// Runs `body` with products in `effective(precision)`, restoring the previous precision
    /// afterwards. Scopes nest; the setting is process-wide (qaft runs one stage's compute at a time).
    public static func with<T>(_ precision: ComputePrecision, _ body: () throws -> T) rethrows -> T {
        let previous = active.exchange(effective(precision).precision == .bf16 ? 1 : 0, ordering: .relaxed)
        defer { active.store(previous, ordering: .relaxed) }
        return try body()
    }
}
