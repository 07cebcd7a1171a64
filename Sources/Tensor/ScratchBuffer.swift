/// A growable scratch buffer with a stable pointer between resizes. Workspaces hold these so a
/// forward pass allocates only when a larger batch than ever before arrives, never per token.
public final class ScratchBuffer<Element: Numeric> {
    public private(set) var pointer: UnsafeMutablePointer<Element>
    public private(set) var capacity: Int

    public init(capacity: Int = 0) {
        self.capacity = capacity
        pointer = .allocate(capacity: Swift.max(capacity, 1))
        pointer.initialize(repeating: .zero, count: Swift.max(capacity, 1))
    }

    deinit { pointer.deallocate() }

    /// Makes room for at least `count` elements (contents are not preserved when it grows) and returns the pointer.
    @discardableResult
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: .zero, count: count)
        }
        return pointer
    }

    /// The first `count` elements as an array (for results handed to callers).
    public func array(_ count: Int) -> [Element] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// The float scratch every workspace holds.
public typealias FloatBuffer = ScratchBuffer<Float>
