/// One of `count` parts of an evaluation, for spreading it over many jobs (`qaft reproduce
/// --executor slurm`). An evaluation is cut at its fixed batches (`Evaluator.batchSize` requests
/// of the context-sorted order) or windows, never inside one: every part is computed exactly as
/// the whole run computes it, so the merged results are the same bits as one job's. Each task
/// (or text) is cut into `count` contiguous blocks of nearly equal size, so every shard gets a
/// similar share of every task, and a task with fewer units than shards leaves some shards
/// without a part of it.
public struct Shard: Codable, Hashable, Sendable, CustomStringConvertible {
    /// 0-based.
    public let index: Int
    public let count: Int

    /// nil unless 0 ≤ `index` < `count`.
    public init?(index: Int, of count: Int) {
        guard count > 0, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// The units (batches, windows) of `0..<total` this shard computes: block `index` of
    /// `count` nearly equal contiguous blocks.
    public func units(of total: Int) -> Range<Int> {
        (index * total / count)..<((index + 1) * total / count)
    }

    /// "2/8" (1-based), for labels and messages.
    public var description: String { "\(index + 1)/\(count)" }
}
