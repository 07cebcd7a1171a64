import Tensor

/// Seeded subsets of tasks that have no subtasks and are not `MultipleChoiceTask`s (generation
/// tasks such as GSM8K): the same identity and the same draw as `select(from:)` makes for a
/// single-subtask task, so a GSM8K subset is chosen exactly as a PIQA subset of the same size and
/// seed would be.
extension Subset {
    /// The subset of `count` items of the generation task `task` at protocol `version` (0-shot).
    public init(generationTask task: String, version: String, count: Int, seed: UInt64) {
        self.task = task
        self.version = version
        numFewShot = 0
        perSubtask = count
        self.seed = seed
    }

    /// The positions (ascending) chosen among `count` items of a task without subtasks: the
    /// partial Fisher–Yates draw of `select(from:)`'s first subtask, `SeededRandom(seed).split(0)`.
    public func positions(among count: Int) throws -> [Int] {
        try draw(from: Array(0..<count), stratum: task, SeededRandom(seed: seed).split(0)).sorted()
    }
}
