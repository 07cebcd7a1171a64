/// Merges a word's symbols pair by pair, always the adjacent pair with the lowest priority in a
/// `PairTable` first and the leftmost of equal ones — the loop of Hugging Face tokenizers'
/// `Word::merge_all` and of llama2.c's `encode`.
///
/// A naive implementation rescans the word after every merge (O(n²)); this keeps the candidate
/// pairs in a binary heap over a doubly linked list of symbols, so a word of n symbols costs
/// O(n log n) — it matters for the long words of CJK text and whitespace runs. Stale heap entries
/// (their left symbol was merged away or changed) are recognised and dropped when popped. The
/// buffers are kept between words, so steady-state merging allocates nothing.
struct BPEMerger {
    private var symbol: [Int32] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var alive: [Bool] = []
    /// Min-heap of candidate merges keyed by priority << 32 | position of the left symbol.
    private var heap: [(key: UInt64, merged: Int32)] = []

    /// Merges `ids` (in place) until no adjacent pair has an entry in `pairs`.
    mutating func merge(_ ids: inout [Int32], pairs: PairTable) {
        let n = ids.count
        guard n > 1 else { return }
        symbol.removeAll(keepingCapacity: true)
        symbol.append(contentsOf: ids)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        alive.removeAll(keepingCapacity: true)
        for i in 0..<n {
            prev.append(Int32(i - 1))
            next.append(i + 1 < n ? Int32(i + 1) : -1)
            alive.append(true)
        }
        heap.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) { push(left: i, pairs: pairs) }

        while let top = pop() {
            let left = Int(top.key & 0xFFFF_FFFF)
            guard alive[left], next[left] >= 0 else { continue }
            let right = Int(next[left])
            // The pair at `left` may have changed since the entry was pushed; like HF, accept the
            // entry only if the current pair still merges into the same token.
            guard let current = pairs.lookup(symbol[left], symbol[right]), current.merged == top.merged
            else { continue }
            symbol[left] = top.merged
            alive[right] = false
            next[left] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(left) }
            if prev[left] >= 0 { push(left: Int(prev[left]), pairs: pairs) }
            push(left: left, pairs: pairs)
        }

        ids.removeAll(keepingCapacity: true)
        var i = 0
        while i >= 0 {
            ids.append(symbol[i])
            i = Int(next[i])
        }
    }

    /// Queues the pair starting at symbol `left`, if it has a next symbol and a merge.
    @inline(__always) private mutating func push(left: Int, pairs: PairTable) {
        let right = next[left]
        guard right >= 0, let m = pairs.lookup(symbol[left], symbol[Int(right)]) else { return }
        heap.append((UInt64(m.priority) << 32 | UInt64(left), m.merged))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].key < heap[parent].key else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> (key: UInt64, merged: Int32)? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var i = 0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && heap[l].key < heap[smallest].key { smallest = l }
            if r < n && heap[r].key < heap[smallest].key { smallest = r }
            if smallest == i { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return top
    }
}
