/// A growable scratch buffer of Floats with a stable pointer between resizes. Workspaces hold these so
/// a forward pass allocates only when a larger batch than ever before arrives, never per token.
public final class FloatBuffer {
    public private(set) var pointer: UnsafeMutablePointer<Float>
    public private(set) var capacity: Int

    public init(capacity: Int = 0) {
        self.capacity = capacity
        pointer = .allocate(capacity: Swift.max(capacity, 1))
        pointer.initialize(repeating: 0, count: Swift.max(capacity, 1))
    }

    deinit { pointer.deallocate() }

    /// Makes room for at least `count` floats (contents are not preserved when it grows) and returns the pointer.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: 0, count: count)
        }
        return pointer
    }

    /// The first `count` floats as an array (for results handed to callers).
    public func array(_ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
