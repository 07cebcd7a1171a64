import Tensor

/// A declared, seeded, stratified subset: `perSubtask` items drawn without replacement from every
/// subtask (each MMLU subject; the whole task otherwise), kept in file order. Its canonical string
/// — task identity, n, seed — is part of every result's identity, so numbers from different subsets
/// are never mistaken for each other.
public struct Subset: Codable, Equatable, Hashable, Sendable {
    public let task: String
    public let version: String
    public let numFewShot: Int
    public let perSubtask: Int
    public let seed: UInt64

    public init(task: any MultipleChoiceTask, perSubtask: Int, seed: UInt64) {
        self.task = task.name
        self.version = task.version
        self.numFewShot = task.numFewShot
        self.perSubtask = perSubtask
        self.seed = seed
    }

    /// e.g. "subset:v1;task=mmlu;version=2;shots=5;per_subtask=10;seed=1234". The "v1" names this
    /// selection algorithm; change it if `select` ever draws differently.
    public var canonical: String {
        "subset:v1;task=\(task);version=\(version);shots=\(numFewShot);per_subtask=\(perSubtask);seed=\(seed)"
    }

    /// First 16 hex digits of sha256(canonical): a short key for file names and caches.
    public var hash: String { String(Checksum.sha256Hex(Array(canonical.utf8)).prefix(16)) }

    /// The chosen documents, in their original order. Subtask k (in order of first appearance)
    /// draws from `SeededRandom(seed).split(k)` by a partial Fisher–Yates shuffle.
    public func select(from documents: [TaskDocument]) throws -> [TaskDocument] {
        var order: [String] = []
        var members: [String: [Int]] = [:]
        for (i, d) in documents.enumerated() {
            if members[d.subtask] == nil { order.append(d.subtask) }
            members[d.subtask, default: []].append(i)
        }
        let root = SeededRandom(seed: seed)
        var chosen: [Int] = []
        for (k, subtask) in order.enumerated() {
            chosen += try draw(from: members[subtask]!, stratum: subtask, root.split(UInt64(k)))
        }
        return chosen.sorted().map { documents[$0] }
    }

    /// `perSubtask` members of `pool`: the first ones after a partial Fisher–Yates shuffle by `rng`.
    func draw(from pool: [Int], stratum: String, _ rng: SeededRandom) throws -> ArraySlice<Int> {
        guard perSubtask <= pool.count else {
            throw EvaluationError.subsetTooLarge(task: task, stratum: stratum, requested: perSubtask, available: pool.count)
        }
        var pool = pool, rng = rng
        for j in 0..<perSubtask {
            pool.swapAt(j, j + PairedComparison.uniformIndex(below: pool.count - j, &rng))
        }
        return pool[0..<perSubtask]
    }
}
