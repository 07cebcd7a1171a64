import ArgumentParser
import Evaluation
import Foundation
import Models
import Pipeline

/// `qaft eval`: lm-eval-compatible multiple-choice accuracy, WikiText perplexity and GSM8K
/// generation accuracy (the pipeline's `evaluate-gsm8k` protocol; BOS as the tokenizer adds it, as
/// in fine-tuning, whatever `--bos` says).
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on lm-eval tasks (accuracy), WikiText-2 (perplexity) and GSM8K (generation).",
        discussion: "Multiple-choice tasks: \(TaskRegistry.names.joined(separator: ", ")). Perplexity: "
            + "wikitext (lm-eval word/byte perplexity), wikitext2_gptq (GPTQ-style token perplexity). Generation: "
            + "\(GSM8K.name) (greedy, exact match after the last ####, prompted as the fine-tuning data is; LoTA-QAF's rule).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Comma-separated task names.")
    var tasks: String

    @Option(help: "Score only the first N items of every subtask (lm-eval --limit; pages/windows for perplexity).")
    var limit: Int?

    @Option(help: "Score a seeded stratified sample of N items per subtask.")
    var subset: Int?

    @Option(help: "Seed of --subset.")
    var seed: UInt64 = 1234

    @Option(help: "Few-shot exemplars (MMLU: the first K dev rows of each subject).")
    var shots = 0

    @Flag(inversion: .prefixedNo, help: "Prepend BOS to every encoding (default: the tokenizer's own setting).")
    var bos: Bool?

    @Option(help: ArgumentHelp("lm-eval max_length: longer inputs are cut from the left; also the rolling window of wikitext.",
                               discussion: "Default: the model's context length, which lm-eval reads from the model's config."))
    var maxLength: Int?

    @Option(help: "Window length of wikitext2_gptq.")
    var seqlen = 2048

    @Option(help: "GSM8K: most tokens of prompt plus generation (LoTA-QAF's max_length).")
    var generationLength = 512

    @Option(help: ArgumentHelp("Multiple-choice scoring threads, each on one BLAS thread (results do not depend on it).",
                               discussion: "Default: the machine's cores. Models whose layers keep scratch state (adapters) use one."))
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Data directory with SHA256SUMS.")
    var data = "Experiments/Data"

    @Option(help: ArgumentHelp("Write the lm-eval-style results JSON here.",
                               discussion: "Multiple-choice tasks journal their scored batches beside it (OUTPUT.TASK.journal) until it is "
                                   + "written, so a stopped run resumes when rerun with the same arguments."))
    var output: String?

    @Option(help: "Write every item's record here (input of `qaft compare`).")
    var samples: String?

    @Option(help: "Write GSM8K's generations (prediction, extracted answer and verdict per item) here.")
    var generations: String?

    func validate() throws {
        if limit != nil && subset != nil { throw ValidationError("--limit and --subset exclude each other") }
        if let n = limit ?? subset, n < 1 { throw ValidationError("--limit/--subset must be at least 1") }
        if shots < 0 { throw ValidationError("--shots must not be negative") }
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        if (maxLength ?? 2) < 2 || seqlen < 2 || generationLength < 2 {
            throw ValidationError("--max-length, --seqlen and --generation-length must be at least 2")
        }
    }

    @OptionGroup var precisionOptions: PrecisionOptions

    func run() throws { try precisionOptions.run(evaluate) }

    private func evaluate() throws {
        let names = tasks.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        let known = TaskRegistry.names + PerplexityRun.taskNames + [GSM8K.name]
        for n in names where !known.contains(n) { throw EvaluationError.unknownTask(name: n, known: known) }
        let choiceTasks = try names.filter(TaskRegistry.names.contains).map { try TaskRegistry.task(named: $0, numFewShot: shots) }
        let directory = try DataDirectory(root: URL(fileURLWithPath: data))
        // Select (and so reject a too-large --limit or --subset) before the model is loaded.
        let selections = choiceTasks.map(selection)
        for (task, items) in zip(choiceTasks, selections) { _ = try items.select(from: task.documents(from: directory), task: task.name) }
        let generationRules = GSM8KStage.evaluationProtocol(maxLength: generationLength)
        let generationSelection: ItemSelection = limit.map(ItemSelection.first)
            ?? subset.map { .subset(GSM8K.subset(count: $0, seed: seed)) } ?? .all
        let gsm8kItems = names.contains(GSM8K.name) ? try GSM8K.select(GSM8K.items(from: directory), generationSelection) : []
        if subset != nil, let n = names.first(where: PerplexityRun.taskNames.contains) {
            throw EvaluationError.selectionNotApplicable(task: n, selection: "--subset (use --limit for the first N pages/windows)")
        }
        // The table shows each task's headline and its groups (MMLU's four categories), not every subject.
        var shownEntries: [String: [String]] = [:]
        for task in choiceTasks { shownEntries[task.name] = try [task.name] + task.groups(from: directory).map(\.name).filter { $0 != task.name } }

        let (model, tokenizer, _) = try modelOptions.loadModel(precision: precisionOptions.precision)
        let addBOS = bos ?? tokenizer.addsBOSByDefault
        let modelName = (modelOptions.model as NSString).lastPathComponent
        let maxLength = Swift.min(self.maxLength ?? model.rope.maxPositions, model.rope.maxPositions)
        // Journals are only worth their digest of the model when there is an output to resume towards.
        let modelIdentity = try output.map { _ in
            try ([modelOptions.model] + (modelOptions.tokenizer.map { [$0] } ?? [])).map { try FileDigest.content(of: URL(fileURLWithPath: $0)) }
                .joined(separator: " ") + " maxLength \(maxLength)"
        }
        var journals: [ScoreJournal] = []
        var choiceRuns: [TaskRun] = [], perplexityRuns: [PerplexityRun] = [], generationRuns: [GenerationRun] = []
        var seconds: [String: Double] = [:]
        for name in names {
            let started = Date()
            let progress = Progress(name, quiet: modelOptions.quiet)
            if let i = choiceTasks.firstIndex(where: { $0.name == name }) {
                let scorers = ModelScorer.workers(workers, model: model, maxLength: maxLength)
                var journal: ScoreJournal?
                if let output, let modelIdentity {
                    journal = ScoreJournal(url: URL(fileURLWithPath: "\(output).\(name).journal"), identity: modelIdentity)
                    journals.append(journal!)
                }
                var first = true
                let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: tokenizer, addBOS: addBOS), journal: journal) { done, total in
                    // The first call reports what a journal resumed.
                    if first {
                        first = false
                        if done > 0 { progress.resumedAt = done; note("\(name): resuming after \(done) of \(total) items scored before") }
                        return
                    }
                    progress.update(done, of: total, unit: "items")
                }
                let run = try evaluator.run(choiceTasks[i], data: directory, scorers: scorers, model: modelName, items: selections[i])
                choiceRuns.append(run)
                note(String(format: "%@: %d items, %d tokens forwarded in %.1fs by %d worker(s)", name, run.samples.count,
                            scorers.reduce(0) { $0 + $1.forwardedTokens }, Date().timeIntervalSince(started), scorers.count))
            } else if name == GSM8K.name {
                let evaluator = GenerationEvaluator(model: model, tokenizer: tokenizer, evaluationProtocol: generationRules)
                var correct = 0
                let run = try evaluator.run(gsm8kItems, selection: generationSelection, model: modelName) { records in
                    if records[records.count - 1].correct { correct += 1 }
                    progress.update(records.count, of: gsm8kItems.count, unit: "items · \(correct) correct")
                }
                generationRuns.append(run)
            } else if name == PerplexityRun.lmEvalWikiText {
                // One window at a time: rolling windows share no context.
                let scorer = ModelScorer(model: model, maxLength: maxLength, contextSlots: 1, forkSlots: 1, rowBudget: maxLength)
                perplexityRuns.append(try WikiTextDocuments(directory).evaluate(
                    tokenizer: tokenizer, addBOS: addBOS, scorer: scorer, maxLength: scorer.maxLength, model: modelName,
                    items: limit.map(ItemSelection.first) ?? .all) { done, total in progress.update(done, of: total, unit: "tokens") })
            } else {
                perplexityRuns.append(try TokenPerplexity.wikiText2(directory, seqlen: seqlen).evaluate(
                    model: model, tokenizer: tokenizer, addBOS: addBOS, modelName: modelName,
                    items: limit.map(ItemSelection.first) ?? .all) { done, total in progress.update(done, of: total, unit: "windows") })
            }
            seconds[name] = Date().timeIntervalSince(started)
        }

        let settings = ["max_length": "\(maxLength)", "gptq_seqlen": "\(seqlen)", "num_fewshot": "\(shots)"]
        let report = EvaluationReport(choiceRuns: choiceRuns, perplexityRuns: perplexityRuns, generationRuns: generationRuns,
                                      seconds: seconds, settings: settings)
        printTable(report, shownEntries: shownEntries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let output { try write(encoder.encode(report), to: output) }
        if let samples { try write(encoder.encode(choiceRuns), to: samples) }
        if let generations { try write(encoder.encode(generationRuns), to: generations) }
        for journal in journals { try journal.remove() }
    }

    private func selection(_ task: any MultipleChoiceTask) -> ItemSelection {
        if let limit { return .first(limit) }
        if let subset { return .subset(Subset(task: task, perSubtask: subset, seed: seed)) }
        return .all
    }

    /// Task, metric, value ± stderr, n and time; MMLU shows its headline and four categories.
    private func printTable(_ report: EvaluationReport, shownEntries: [String: [String]]) {
        print(pad("task", 26) + pad("metric", 17) + pad("value", 9) + pad("± stderr", 10) + pad("n", 7) + "time")
        for run in report.choiceRuns {
            let time = String(format: "%.0fs", report.seconds[run.task] ?? 0)
            for entryName in shownEntries[run.task] ?? [run.task] {
                guard let entry = run.results[entryName] else { continue }
                for metric in Metric.allCases {
                    guard let m = entry.metrics[metric] else { continue }
                    let marker = entryName == run.task && metric == run.reportedMetric ? "*" : ""
                    print(pad(entryName, 26) + pad(metric.rawValue + marker, 17) + pad(String(format: "%.4f", m.value), 9)
                          + pad(m.stderr.isFinite ? String(format: "± %.4f", m.stderr) : "± N/A", 10)
                          + pad("\(entry.sampleCount)", 7) + time)
                }
            }
        }
        for run in report.perplexityRuns {
            for (metric, value) in run.metrics.sorted(by: { $0.key < $1.key }) {
                print(pad(run.task, 26) + pad(metric, 17) + pad(String(format: "%.4f", value), 19) + pad("\(run.documents)", 7)
                      + String(format: "%.0fs", report.seconds[run.task] ?? 0))
            }
            print("  protocol: \(run.protocolDescription)")
        }
        for run in report.generationRuns {
            print(pad(run.task, 26) + pad("exact_match", 17) + pad(String(format: "%.4f", run.accuracy), 9)
                  + pad(run.stderr.map { String(format: "± %.4f", $0) } ?? "± N/A", 10) + pad("\(run.samples.count)", 7)
                  + String(format: "%.0fs", report.seconds[run.task] ?? 0))
            print("  protocol: \(run.evaluationProtocol.canonical)")
        }
        if let csqa = report.commonsenseAverage {
            print(String(format: "CSQA-7 (mean of the seven commonsense tasks at their * metric): %.4f", csqa))
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    private func note(_ s: String) { if !modelOptions.quiet { Progress.note(s) } }

    private func write(_ data: Data, to path: String) throws {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        note("wrote \(path)")
    }
}
