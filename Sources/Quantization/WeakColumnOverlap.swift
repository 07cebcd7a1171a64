/// QEFT's premise (qeft.md §6, claim C2): the weak columns each residual-reading layer would pick
/// for itself (OWQ's per-layer top k of H_jj·‖W_:j − Q(W)_:j‖², i.e. without OGR) overlap strongly
/// across layers and with the one global set OGR keeps (with OGR every layer's set *is* the
/// global set: overlap 1). Measured while QEFT picks its global set.
public struct WeakColumnOverlap: Equatable, Sendable {
    /// Jaccard |A ∩ G| / |A ∪ G| of each residual reader's own set A with the global set G, by
    /// block and then by site (q, k, v, gate, up).
    public let withGlobal: [Double]
    /// Jaccard of the same site's own sets in consecutive blocks.
    public let adjacent: [Double]

    /// `perLayer[l][i]` is block l's own set for its i-th residual reader.
    public init(perLayer: [[[Int]]], global: [Int]) {
        withGlobal = perLayer.flatMap { $0.map { Self.jaccard($0, global) } }
        adjacent = zip(perLayer, perLayer.dropFirst()).flatMap { a, b in zip(a, b).map { Self.jaccard($0, $1) } }
    }

    /// |a ∩ b| / |a ∪ b| (1 for two empty sets).
    public static func jaccard(_ a: [Int], _ b: [Int]) -> Double {
        let x = Set(a), y = Set(b)
        let union = x.union(y).count
        return union == 0 ? 1 : Double(x.intersection(y).count) / Double(union)
    }

    /// Mean and minimum of both, by name, for a stage's metrics.
    public var metrics: [String: Double] {
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        return ["weakOverlapWithGlobal": mean(withGlobal), "weakOverlapWithGlobalMin": withGlobal.min() ?? .nan,
                "weakOverlapAdjacent": mean(adjacent)]
    }
}
