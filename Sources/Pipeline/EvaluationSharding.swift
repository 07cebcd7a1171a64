import Evaluation
import Foundation

/// How an evaluation stage (`evaluate-tasks`, `evaluate-perplexity`) takes part in a sharded
/// evaluation (`EvaluationSpec.shards`), read from its settings:
///
/// * neither `shard` nor `shards`: the whole evaluation, in one job;
/// * `shard` = {index, count}: one part (`Shard`): its fixed batches or windows only, recorded per
///   item (score journals, window NLLs) for the merge;
/// * `shards` = N: the merge: the same stage code as the whole evaluation, reading every result
///   from its inputs `shard.0` … `shard.N-1` instead of computing it, so its output is the whole
///   evaluation's, bit for bit. It reads the model's tokenizer and shape, not its weights.
enum EvaluationSharding {
    case whole
    case part(Shard)
    case merge(count: Int)

    /// Whether the stage merges parts (and so reads no model weights).
    var isMerge: Bool { if case .merge = self { return true } else { return false } }

    /// The stage kinds that can be split.
    static let kinds = [TaskStage.kindName, PerplexityStage.kindName]

    /// The name of the merge stage's input holding part `index`.
    static func inputName(_ index: Int) -> String { inputPrefix + String(index) }
    static let inputPrefix = "shard."

    /// Whether `stage` is the merge of a sharded evaluation (its inputs are the parts).
    static func isMerge(_ stage: PlannedStage) -> Bool { stage.inputs.keys.contains { $0.hasPrefix(inputPrefix) } }

    /// Reads an evaluation stage's `shard` and `shards` settings.
    init(shard: Shard?, shards: Int?) throws {
        switch (shard, shards) {
        case (nil, nil):
            self = .whole
        case (let s?, nil):
            guard s.count >= 2, (0..<s.count).contains(s.index) else {
                throw StageParameterError(field: "shard", value: "{index: \(s.index), count: \(s.count)}", reason: "expected 0 ≤ index < count, count ≥ 2")
            }
            self = .part(s)
        case (nil, let n?):
            guard (2...4096).contains(n) else { throw StageParameterError(field: "shards", value: String(n), reason: "expected 2...4096") }
            self = .merge(count: n)
        case (_?, let n?):
            throw StageParameterError(field: "shards", value: String(n), reason: "a stage is either a part (shard) or the merge (shards), not both")
        }
    }

    /// `whole` split into `count` parts (labelled `…/shard-2of8`) and their merge, which takes
    /// the place of `whole` in the plan.
    static func split(_ whole: StageSpec, into count: Int) -> StageSpec {
        guard count > 1 else { return whole }
        var merge = whole
        merge.parameters = whole.parameters.merging(["shards": .int(count)]) { _, b in b }
        for i in 0..<count {
            var part = whole
            part.label += "/shard-\(i + 1)of\(count)"
            part.parameters = whole.parameters.merging(["shard": ["index": .int(i), "count": .int(count)]]) { _, b in b }
            merge.inputs[inputName(i)] = part
        }
        return merge
    }

    /// The merge's part records, in shard order.
    static func parts(_ count: Int, _ context: StageContext) throws -> [StageRecord] {
        try (0..<count).map { try context.input(inputName($0)) }
    }

    /// Stands in for the model in a merge: every batch must come from a part's journal, so a
    /// batch left to score means the parts do not cover the evaluation.
    struct UncoveredBatch: LogLikelihoodScorer {
        let stage: String

        func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
            throw PipelineError.stageFailed(stage: stage, reason: "\(requests.count) requests are in no shard's results: the shards do not cover the evaluation")
        }
    }
}
