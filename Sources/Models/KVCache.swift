/// Keys and values of past positions, per layer, for a fixed number of sequence slots.
///
/// A slot can be *forked* from another: its first `length` positions are read from the parent slot
/// (recursively), never copied. That is how a shared context (an MMLU 5-shot prefix, a question
/// scored against four answers) is computed once and attended to by every continuation.
///
/// Layout per layer: keys/values (slots, capacity, kvDim) row-major.
public final class KVCache {
    public let layerCount: Int
    public let slotCount: Int
    public let capacity: Int
    public let kvDim: Int
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    /// Positions filled in each slot (including those inherited from its parent).
    public private(set) var lengths: [Int]
    private var parents: [(slot: Int, length: Int)?]

    /// One contiguous run of cached positions: keys/values rows `start ..< start + count` of `slot`.
    public struct Segment {
        public var slot: Int
        public var start: Int
        public var count: Int
    }

    public init(config: LlamaConfig, slots: Int, capacity: Int) {
        layerCount = config.layerCount
        slotCount = slots
        self.capacity = capacity
        kvDim = config.kvDim
        let n = layerCount * slots * capacity * kvDim
        keys = .allocate(capacity: n)
        values = .allocate(capacity: n)
        lengths = Array(repeating: 0, count: slots)
        parents = Array(repeating: nil, count: slots)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes held by the cache.
    public var byteCount: Int { 2 * layerCount * slotCount * capacity * kvDim * MemoryLayout<Float>.size }

    /// Empties a slot and detaches it from any parent.
    public func reset(slot: Int) {
        lengths[slot] = 0
        parents[slot] = nil
    }

    public func resetAll() { for s in 0..<slotCount { reset(slot: s) } }

    /// Makes `slot` continue from the first `length` positions of `parent` without copying them.
    public func fork(slot: Int, from parent: Int, length: Int) {
        precondition(slot != parent && length <= lengths[parent], "fork of slot \(slot) from \(parent) at \(length)")
        parents[slot] = (parent, length)
        lengths[slot] = length
    }

    /// Pointer to the key row of `position` in `slot` at `layer` (the slot's own storage).
    @inline(__always)
    public func key(layer: Int, slot: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + ((layer * slotCount + slot) * capacity + position) * kvDim
    }

    @inline(__always)
    public func value(layer: Int, slot: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + ((layer * slotCount + slot) * capacity + position) * kvDim
    }

    /// Forgets positions `length...` of a root (unforked) slot, keeping the first `length`. Slots
    /// forked from it must be reset by the caller before they are used again.
    public func truncate(slot: Int, to length: Int) {
        precondition(parents[slot] == nil && length <= lengths[slot], "truncate of slot \(slot) to \(length)")
        lengths[slot] = length
    }

    /// Marks `count` more positions of `slot` as filled (after every layer wrote them).
    public func advance(slot: Int, by count: Int) {
        precondition(lengths[slot] + count <= capacity, "KV cache slot \(slot) overflow")
        lengths[slot] += count
    }

    /// The runs of storage holding positions 0 ..< `length` of `slot`, oldest first.
    public func segments(slot: Int, length: Int) -> [Segment] {
        var result: [Segment] = []
        var current = slot, end = length
        while end > 0 {
            if let p = parents[current] {
                if end > p.length {
                    result.append(Segment(slot: current, start: p.length, count: end - p.length))
                    end = p.length
                }
                current = p.slot
            } else {
                result.append(Segment(slot: current, start: 0, count: end))
                end = 0
            }
        }
        return result.reversed()
    }
}
