import Evaluation
import Foundation
import Models
import Tensor

/// lm-eval-style multiple-choice accuracy of a model on one or more tasks (`Evaluation`'s tasks,
/// scored with shared-context reuse). One task: its reported metric (acc or acc_norm, as lm-eval
/// reports it; for MMLU the size-weighted mean over subjects). Several tasks: the plain mean of
/// their reported metrics (the papers' "CSQA" average of seven), with the stderr of that mean
/// from the tasks' stderrs. The series `accuracy` holds every item's 0/1 score at its task's
/// metric, tasks in the given order, for paired tests between rows.
///
/// Parameters: `tasks` (names), `shots`, `perSubtask` (0 = every item; else a seeded stratified
/// sample of that many per subtask, e.g. per MMLU subject), `subtasks` (0 = all; else only that
/// many subtasks, drawn with `subsetSeed`: 5-shot MMLU's cost is its 57 subject prefixes, so the
/// quick profile scores fewer subjects rather than fewer questions), `subsetSeed`, `maxLength`
/// (lm-eval's max_length, default the model's context length, which lm-eval reads from the
/// model's config). File `checksums`: the data folder's SHA256SUMS; the tasks read their files
/// from its folder and verify them against it, so the key covers the data's contents. Each
/// finished task is checkpointed, and its scored batches are journaled (`ScoreJournal`), so a
/// killed run resumes inside the task it was scoring. `batchSize` (default 512 requests) sets the
/// fixed batches of the context-sorted order (each batch is scored from an empty KV cache, so it
/// is part of the key). `shard`/`shards` split the stage over jobs (`EvaluationSharding`): a part
/// scores its block of every task's batches into score journals (its artifact), the merge reads
/// them and aggregates exactly as one job would. `precision` (`fp32`, the default, or `bf16`) is
/// the arithmetic of the scoring products (`ComputePrecision`).
///
/// Metrics besides the reported ones: every metric of each task's headline and groups as
/// `<entry>.<metric>` and `<entry>.<metric>_stderr` (e.g. `hellaswag.acc`, `mmlu_stem.acc`), and
/// `<task>.seconds`, the wall time of scoring that task.
public struct TaskStage: Stage {
    public static let kindName = "evaluate-tasks"
    public var kind: String { Self.kindName }
    /// 2: every headline and group metric, and per-task seconds, in the output. 3: max_length
    /// defaults to the model's context length (was 2048; SmolLM2's is 8192), as lm-eval's. Still 3
    /// after scoring moved to one worker per core with a fresh cache per batch: that moves scores
    /// only in the last float bits, not enough to recompute every cached evaluation.
    public var version: String { "3" }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { ["checksums"] }
    public var isStochastic: Bool { false }

    public init() {}

    public struct Settings: Codable, Sendable {
        public var tasks: [String]
        public var shots, perSubtask, subtasks, subsetSeed, maxLength, batchSize: Int?
        public var shard: Shard?
        public var shards: Int?
        /// The scoring products' arithmetic (`ComputePrecision`); unset: fp32.
        public var precision: ComputePrecision?
    }

    public func check(_ s: Settings) throws {
        _ = try EvaluationSharding(shard: s.shard, shards: s.shards)
        try StageParameterError.require("batchSize", s.batchSize, in: 1...1 << 20)
        try StageParameterError.require("subtasks", s.subtasks, in: 0...1 << 20)
        try StageParameterError.require("shots", s.shots, in: 0...100)
        try StageParameterError.require("perSubtask", s.perSubtask, in: 0...1 << 30)
        try StageParameterError.require("subsetSeed", s.subsetSeed, in: 0...Int.max)
        try StageParameterError.require("maxLength", s.maxLength, in: 2...1 << 20)
        _ = try tasks(s)
    }

    private func tasks(_ s: Settings) throws -> [any MultipleChoiceTask] {
        guard !s.tasks.isEmpty else { throw StageParameterError(field: "tasks", value: "[]", reason: "expected a non-empty list of task names") }
        return try s.tasks.map { name in
            do { return try TaskRegistry.task(named: name, numFewShot: s.shots ?? 0) } catch {
                throw StageParameterError(field: "tasks", value: "\"\(name)\"", reason: "unknown task (known: \(TaskRegistry.names.joined(separator: ", ")))")
            }
        }
    }

    /// Scores in the settings' `precision` (fp32 unless set: the precision lm-eval's numbers are
    /// matched in).
    public func run(_ p: Settings, _ context: StageContext) throws -> StageOutput {
        try ComputePrecision.with(p.precision ?? .fp32) { try score(p, context) }
    }

    private func score(_ p: Settings, _ context: StageContext) throws -> StageOutput {
        let tasks = try tasks(p)
        let perSubtask = p.perSubtask ?? 0
        let seed = UInt64(p.subsetSeed ?? 1234)
        let data = try DataDirectory(root: try context.file("checksums").deletingLastPathComponent())
        let selections: [ItemSelection] = tasks.map { perSubtask > 0 ? .subset(Subset(task: $0, perSubtask: perSubtask, seed: seed)) : .all }
        let subtasks = p.subtasks ?? 0
        let documents = try zip(tasks, selections).map { task, items in
            Self.keep(subtasks, of: try items.select(from: task.documents(from: data), task: task.name), seed: seed)
        }
        let total = documents.reduce(0) { $0 + $1.count }

        let sharding = try EvaluationSharding(shard: p.shard, shards: p.shards)
        let modelRecord = try context.input("model")
        // A merge reads every score from its parts: it needs the tokenizer, not the weights.
        var (tokenizer, config, weights) = try ModelArtifact.open(modelRecord, weights: !sharding.isMerge)
        // The weights move into the model: built for bf16, it releases their fp32 copies.
        let model = weights.take().map { Llama($0, precision: p.precision ?? .fp32) }
        let maxLength = p.maxLength ?? config.contextLength
        let encoder = LMEvalEncoder(tokenizer: tokenizer, addBOS: tokenizer.addsBOSByDefault)
        let batchSize = p.batchSize ?? Evaluator(encoder: encoder).batchSize
        // The scores depend on the model, the requests, the batches and max_length: a part's
        // journal is valid for the merge and for a resumed run of the same evaluation.
        let identity = "model \(modelRecord.key.hex) maxLength \(maxLength)"
        func journal(_ task: any MultipleChoiceTask) -> ScoreJournal {
            ScoreJournal(url: context.checkpoint.url.appendingPathComponent(task.name + ".journal"), identity: identity)
        }
        func scorers() -> [any LogLikelihoodScorer] {
            // Results do not depend on the worker count, so it stays out of the stage key.
            model.map { ModelScorer.workers(model: $0, maxLength: maxLength) } ?? [EvaluationSharding.UncoveredBatch(stage: context.label)]
        }
        if case .part(let shard) = sharding {
            var done = 0
            for (task, items) in zip(tasks, documents) {
                let before = done
                let evaluator = Evaluator(encoder: encoder, batchSize: batchSize, journal: journal(task)) { d, _ in
                    context.progress(before + d, total, "\(task.name), shard \(shard)")
                }
                try evaluator.score(items, scorers: scorers(), shard: shard)
                done += items.count
                try FileManager.default.copyItem(at: journal(task).url, to: context.artifactDirectory.appendingPathComponent(task.name + ".journal"))
            }
            return StageOutput(notes: ["selection": selections.map(\.canonical).joined(separator: "; "), "shard": shard.description])
        }
        let finished = try context.checkpoint.load(Finished.self, as: "tasks") ?? Finished(runs: [], seconds: [])
        var runs = finished.runs, seconds = finished.seconds
        if !runs.isEmpty { context.resumed(runs.count) }
        var done = documents.prefix(runs.count).reduce(0) { $0 + $1.count }
        for i in runs.count..<tasks.count {
            if case .merge(let count) = sharding {
                try ScoreJournal.merge(try EvaluationSharding.parts(count, context).map { part in
                    guard let dir = part.artifactURL else { throw PipelineError.artifact(path: part.key.hex, reason: "shard stored no scores") }
                    return dir.appendingPathComponent(tasks[i].name + ".journal")
                }, into: journal(tasks[i]).url)
            }
            let before = done, started = Date()
            let evaluator = Evaluator(encoder: encoder, batchSize: batchSize, journal: journal(tasks[i])) { d, _ in
                context.progress(before + d, total, tasks[i].name)
            }
            let records = try evaluator.score(documents[i], scorers: scorers())
            runs.append(Evaluator.aggregate(tasks[i], items: records, groups: try tasks[i].groups(from: data),
                                            config: RunConfig(model: "stage \(context.key.hex.prefix(12))", addBOS: encoder.addBOS,
                                                              items: selections[i])))
            seconds.append(Date().timeIntervalSince(started))
            done += documents[i].count
            if i + 1 < tasks.count { try context.checkpoint.save(Finished(runs: runs, seconds: seconds), as: "tasks") }
        }

        var out = StageOutput()
        var values: [Double] = [], variances: [Double] = [], items: [Double] = []
        for (i, run) in runs.enumerated() {
            let v = try run.reportedValue()
            for name in Set([run.task] + (try tasks[i].groups(from: data).map(\.name))) {
                for (metric, summary) in run.results[name]?.metrics ?? [:] {
                    out.metrics[name + "." + metric.rawValue] = summary.value
                    // Subsets of one item per subtask have no pooled stderr.
                    if summary.stderr.isFinite { out.metrics[name + "." + metric.rawValue + "_stderr"] = summary.stderr }
                }
            }
            out.metrics[run.task + ".seconds"] = seconds[i]
            let scores = run.samples.map { $0.value(run.reportedMetric) }
            // lm-eval pools subtask stderrs; a subtask of one item has none, so the items' own
            // sample stderr stands in (subsets of one question per MMLU subject).
            var se = run.headline?.metrics[run.reportedMetric]?.stderr ?? .nan
            if !se.isFinite { se = Self.sampleStderr(scores) }
            out.metrics[run.task + "." + run.reportedMetric.rawValue] = v
            out.metrics[run.task + "." + run.reportedMetric.rawValue + "_stderr"] = se
            out.metrics[run.task + ".items"] = Double(run.samples.count)
            values.append(v)
            variances.append(se * se)
            items += scores
        }
        let n = Double(values.count)
        out.metrics["accuracy"] = values.reduce(0, +) / n
        out.metrics["accuracy_stderr"] = variances.reduce(0, +).squareRoot() / n
        out.metrics["items"] = Double(items.count)
        out.series["accuracy"] = items
        out.notes["selection"] = selections.map(\.canonical).joined(separator: "; ")
        return out
    }

    /// The checkpoint: the tasks scored so far and the wall seconds each took.
    private struct Finished: Codable {
        var runs: [TaskRun]
        var seconds: [Double]
    }

    /// Standard error of the mean of `x` (sample variance); 0 for fewer than two values.
    static func sampleStderr(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let n = Double(x.count), mean = x.reduce(0, +) / n
        return (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) / n).squareRoot()
    }

    /// The documents of `count` subtasks drawn with `seed` (all when `count` is 0 or too large).
    static func keep(_ count: Int, of documents: [TaskDocument], seed: UInt64) -> [TaskDocument] {
        var names = Array(Set(documents.map(\.subtask))).sorted()
        guard count > 0, count < names.count else { return documents }
        var random = SeededRandom(seed: seed)
        for i in 0..<count {
            names.swapAt(i, i + Int(random.next() % UInt64(names.count - i)))
        }
        let kept = Set(names.prefix(count))
        return documents.filter { kept.contains($0.subtask) }
    }
}
