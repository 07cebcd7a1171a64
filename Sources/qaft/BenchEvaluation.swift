import Evaluation
import Foundation
import Models

extension Bench {
    /// MMLU 5-shot scoring speed: `ModelScorer` (prefix reuse, packed waves) against
    /// `FullSequenceScorer` (every request's full sequence, packed too) on the same questions, one
    /// worker (one thread) each, and the wall time of the whole 14,042-question MMLU this implies,
    /// then prefix reuse with one worker per core. The plain scorer reads ~30× more tokens, so it runs on the first
    /// `plainQuestions` of the sample only; rates are per question. 256 questions make two equal
    /// evaluator batches, one per worker on two cores.
    func evaluationSection(_ loaded: LoadedModel, questions: Int = 256, plainQuestions: Int = 20) throws {
        print("\n## evaluation: MMLU 5-shot scoring (\(questions) questions; plain scoring on the first \(plainQuestions))")
        let all = try MMLU(numFewShot: 5).documents(from: vendoredData())
        let sample = try mmluSample(questions: questions)
        let model = Llama(loaded.weights)
        let evaluator = Evaluator(encoder: LMEvalEncoder(tokenizer: loaded.tokenizer, addBOS: loaded.tokenizer.addsBOSByDefault))

        let reuse = ModelScorer(model: model)
        var t0 = Date()
        let reused = try evaluator.score(sample, scorer: reuse)
        let reuseSeconds = Date().timeIntervalSince(t0)
        let plain = FullSequenceScorer(model: model)
        t0 = Date()
        let full = try evaluator.score(Array(sample.prefix(plainQuestions)), scorer: plain)
        let plainSeconds = Date().timeIntervalSince(t0)

        let reuseRate = Double(sample.count) / reuseSeconds, plainRate = Double(full.count) / plainSeconds
        print(String(format: "  prefix reuse   %7.2f questions/s  %7.1f tokens/s (%d tokens forwarded for %d questions)",
                     reuseRate, Double(reuse.forwardedTokens) / reuseSeconds, reuse.forwardedTokens, sample.count))
        print(String(format: "  plain          %7.2f questions/s  %7.1f tokens/s (%d tokens forwarded for %d questions)",
                     plainRate, Double(plain.forwardedTokens) / plainSeconds, plain.forwardedTokens, full.count))
        let drift = zip(reused, full).flatMap { zip($0.logLikelihoods, $1.logLikelihoods).map { abs($0 - $1) } }.max() ?? 0
        print(String(format: "  speed-up from reuse %.1f×; max |Δ log-likelihood| between the two %.2e", reuseRate / plainRate, drift))

        // Whole-MMLU estimate: scale the measured time by the uncached prompt text (each question's
        // text after its subject's shared 5-shot prefix, plus each prefix once).
        let scale = uncachedCharacters(all) / uncachedCharacters(sample)
        print(String(format: "  estimated whole MMLU 5-shot (14,042 questions) with reuse, one worker: %@ (plain: %@)",
                     Progress.clock(reuseSeconds * scale), Progress.clock(reuseSeconds * scale * reuseRate / plainRate)))

        let workers = ModelScorer.workers(model: model)
        t0 = Date()
        let parallel = try evaluator.score(sample, scorers: workers)
        let parallelSeconds = Date().timeIntervalSince(t0)
        let identical = zip(parallel, reused).allSatisfy { $0.logLikelihoods == $1.logLikelihoods }
        print(String(format: "  reuse, %d workers: %7.2f questions/s, %.2f× one worker; log-likelihoods %@; "
                     + "whole MMLU 5-shot estimated at %@",
                     workers.count, Double(sample.count) / parallelSeconds, reuseSeconds / parallelSeconds,
                     identical ? "bit-identical" : "DIFFER", Progress.clock(parallelSeconds * scale)))
    }

    private func vendoredData() throws -> DataDirectory {
        try DataDirectory.vendored(repositoryRoot: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }

    /// The first four MMLU subjects, `questions / 4` questions each: questions sharing four 5-shot prefixes.
    func mmluSample(questions: Int) throws -> [TaskDocument] {
        let task = MMLU(numFewShot: 5)
        let all = try task.documents(from: vendoredData())
        var subjects: [String] = []
        for d in all where subjects.count < 4 && !subjects.contains(d.subtask) { subjects.append(d.subtask) }
        return try ItemSelection.first(questions / 4).select(from: all, task: task.name).filter { subjects.contains($0.subtask) }
    }

    /// Characters the scorer must run: per subject the shared prefix once, then every question's rest.
    private func uncachedCharacters(_ documents: [TaskDocument]) -> Double {
        var total = 0
        for group in Dictionary(grouping: documents, by: \.subtask).values {
            let contexts = group.map { Array($0.requests[0].context.utf8) }
            var shared = contexts[0].count
            for c in contexts.dropFirst() { shared = min(shared, zip(contexts[0], c).prefix { $0 == $1 }.count) }
            total += shared + contexts.reduce(0) { $0 + $1.count - shared }
        }
        return Double(total)
    }
}
