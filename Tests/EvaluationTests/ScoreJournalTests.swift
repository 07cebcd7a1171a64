import Foundation
import TestSupport
import XCTest
@testable import Evaluation

final class ScoreJournalTests: XCTestCase {
    let data = try! DataDirectory.vendored(repositoryRoot: Fixtures.root)

    /// Scores like `RecordingScorer` but fails on its `failOnCall`-th batch, as a killed run would stop.
    final class FailingScorer: LogLikelihoodScorer {
        let inner = RecordingScorer()
        let failOnCall: Int
        init(failOnCall: Int) { self.failOnCall = failOnCall }
        func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
            if inner.calls + 1 == failOnCall { throw CocoaError(.userCancelled) }
            return try inner.score(requests)
        }
    }

    private func documents() throws -> [TaskDocument] {
        let task = try TaskRegistry.task(named: "arc_challenge")
        return try ItemSelection.subset(Subset(task: task, perSubtask: 20, seed: 3)).select(from: task.documents(from: data), task: task.name)
    }

    /// The first ten documents' answers are single tokens (greedy under `RecordingScorer`), the others' are not.
    private func evaluator(_ journal: ScoreJournal?) throws -> Evaluator {
        let answers = try documents().prefix(10).flatMap { $0.choices.map { " " + $0 } }
        return Evaluator(encoder: LMEvalEncoder(tokenizer: VocabularyTokenizer(answers), addBOS: true), batchSize: 7, journal: journal)
    }

    private func temporaryJournal(identity: String = "model m") -> ScoreJournal {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return ScoreJournal(url: dir.appendingPathComponent("run.journal"), identity: identity)
    }

    func testStoppedRunResumesWithOnlyTheMissingBatchesAndIdenticalRecords() throws {
        let docs = try documents()
        let reference = RecordingScorer()
        let expected = try evaluator(nil).score(docs, scorer: reference)
        let batches = reference.calls
        XCTAssertGreaterThan(batches, 8)
        XCTAssertTrue(expected.contains { $0.isGreedy.contains(true) } && expected.contains { $0.isGreedy.contains(false) })

        let journal = temporaryJournal()
        XCTAssertThrowsError(try evaluator(journal).score(docs, scorer: FailingScorer(failOnCall: 6)))
        // A torn last line, as from a process killed mid-write: cut off, that batch rescored.
        let torn = try FileHandle(forWritingTo: journal.url)
        try torn.seekToEnd()
        try torn.write(contentsOf: Data("35 bfb99999".utf8))
        try torn.close()

        let resumed = RecordingScorer()
        var firstProgress: Int?
        var again = try evaluator(ScoreJournal(url: journal.url, identity: journal.identity))
        again.progress = { done, _ in if firstProgress == nil { firstProgress = done } }
        XCTAssertEqual(try again.score(docs, scorer: resumed), expected)
        XCTAssertEqual(resumed.calls, batches - 5)
        XCTAssertEqual(resumed.received, Array(reference.received.dropFirst(5 * 7)))
        XCTAssertEqual(firstProgress, 5 * 7 * docs.count / reference.received.count)

        // Complete now: a third run scores nothing.
        let idle = RecordingScorer()
        XCTAssertEqual(try evaluator(ScoreJournal(url: journal.url, identity: journal.identity)).score(docs, scorer: idle), expected)
        XCTAssertEqual(idle.calls, 0)
    }

    func testJournalOfAnotherModelOrSelectionIsReplacedNotMixedIn() throws {
        let docs = try documents()
        let journal = temporaryJournal(identity: "model a")
        _ = try evaluator(journal).score(docs, scorer: RecordingScorer())

        let otherModel = RecordingScorer()
        _ = try evaluator(ScoreJournal(url: journal.url, identity: "model b")).score(docs, scorer: otherModel)
        XCTAssertEqual(otherModel.received.count, docs.reduce(0) { $0 + $1.requests.count })

        let otherItems = RecordingScorer()
        _ = try evaluator(ScoreJournal(url: journal.url, identity: "model b")).score(Array(docs.dropFirst()), scorer: otherItems)
        XCTAssertEqual(otherItems.received.count, docs.dropFirst().reduce(0) { $0 + $1.requests.count })
    }

    func testRemoveDeletesTheFile() throws {
        let journal = temporaryJournal()
        _ = try evaluator(journal).score(try documents(), scorer: RecordingScorer())
        XCTAssertTrue(FileManager.default.fileExists(atPath: journal.url.path))
        try journal.remove()
        XCTAssertFalse(FileManager.default.fileExists(atPath: journal.url.path))
    }
}

extension ScoreJournalTests {
    /// Shards of a run, each scoring its block of the batches into its own journal, merge into a
    /// journal from which the run's records come out identical, with no batch scored again; a
    /// missing shard leaves batches to score.
    func testShardJournalsMergeIntoTheWholeRun() throws {
        let docs = try documents()
        let reference = RecordingScorer()
        let expected = try evaluator(nil).score(docs, scorer: reference)
        let shards = (0..<3).map { Shard(index: $0, of: 3)! }
        var journals: [URL] = []
        var scored = 0
        for shard in shards {
            let journal = temporaryJournal()
            let scorer = RecordingScorer()
            try evaluator(journal).score(docs, scorers: [scorer], shard: shard)
            XCTAssertGreaterThan(scorer.calls, 0)
            scored += scorer.calls
            journals.append(journal.url)
        }
        XCTAssertEqual(scored, reference.calls)
        let merged = temporaryJournal()
        try ScoreJournal.merge(journals, into: merged.url)
        let none = FailingScorer(failOnCall: 1)
        XCTAssertEqual(try evaluator(merged).score(docs, scorer: none), expected)

        let partial = temporaryJournal()
        try ScoreJournal.merge(Array(journals.prefix(2)), into: partial.url)
        XCTAssertThrowsError(try evaluator(partial).score(docs, scorer: FailingScorer(failOnCall: 1)))
        // A journal of another run (another model identity) is refused by name.
        let other = temporaryJournal(identity: "model other")
        try evaluator(other).score(docs, scorers: [RecordingScorer()], shard: shards[0])
        XCTAssertThrowsError(try ScoreJournal.merge([journals[0], other.url], into: partial.url)) { error in
            XCTAssert("\(error)".contains(other.url.path), "\(error)")
        }
    }
}
