import Synchronization

/// The arithmetic of the large matrix products: fp32 throughout, or the mixed-precision recipe the
/// papers train in (bf16 operands, fp32 accumulation; master weights, optimizer state, norms,
/// softmax, loss and reductions stay fp32).
///
/// A stage runs its work inside `ComputePrecision.with(_:)`; the dense products read `current`.
public enum ComputePrecision: String, Codable, Sendable, CaseIterable {
    case fp32
    case bf16

    private static let active = Atomic<Int>(0)

    /// The precision the products use now (fp32 outside any `with` scope).
    public static var current: ComputePrecision { active.load(ordering: .relaxed) == 1 ? .bf16 : .fp32 }

    /// Runs `body` with products in `precision`, restoring the previous precision afterwards.
    /// Scopes nest; the setting is process-wide (qaft runs one stage's compute at a time).
    public static func with<T>(_ precision: ComputePrecision, _ body: () throws -> T) rethrows -> T {
        let previous = active.exchange(precision == .bf16 ? 1 : 0, ordering: .relaxed)
        defer { active.store(previous, ordering: .relaxed) }
        return try body()
    }
}
