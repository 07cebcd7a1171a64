import Foundation
import Methods

/// One kind of pipeline step: inputs (results of upstream stages, data files) plus settings →
/// an output (metrics, per-item series) and optionally an artifact directory. A stage must be pure:
/// its key (kind, version, settings, upstream keys, file contents, seed) decides whether it runs,
/// so anything that changes the result has to be in those, and `version` must be bumped when the
/// code computing it changes.
///
/// How to add one: write a type conforming to `Stage` in `Sources/Pipeline/Stages/<Name>Stage.swift`
/// with its `Settings` (a Codable struct: a manifest's parameters are read into it once, by field
/// name, and its canonical JSON is what the key hashes and what a job receives), and add an
/// instance to `StageRegistry.standard`. Manifests then name it by `kind`.
public protocol Stage: Sendable {
    /// The stage's typed parameters.
    associatedtype Settings: Codable & Sendable
    /// Stable name manifests use, e.g. `evaluate-perplexity`.
    var kind: String { get }
    /// Code version; part of every key this stage produces.
    var version: String { get }
    /// Names of the upstream results it reads (e.g. `model`); the planner checks they are wired.
    var inputNames: [String] { get }
    /// Names of the data files it always reads.
    var fileNames: [String] { get }
    /// Names of the data files it reads with `settings` (default: `fileNames`); checked by the
    /// planner, so a missing one fails before anything runs.
    func requiredFiles(_ settings: Settings) -> [String]
    /// Whether the manifest seed affects the result (only then is it part of the key, so
    /// changing the seed does not recompute deterministic stages).
    var isStochastic: Bool { get }
    /// Rejects settings that decode but cannot run (ranges, combinations) before anything runs,
    /// with a `StageParameterError` naming the field and the value.
    func check(_ settings: Settings) throws
    /// Computes the result. Write the artifact (if any) into `context.artifactDirectory`; save
    /// progress through `context.checkpoint` to survive a kill.
    func run(_ settings: Settings, _ context: StageContext) throws -> StageOutput
}

extension Stage {
    public func requiredFiles(_ settings: Settings) -> [String] { fileNames }

    /// A manifest's parameters read into checked settings, canonically encoded; with the data
    /// files the settings read (`StageParameterError` names a bad field).
    func settings(from parameters: [String: Value]) throws -> (CanonicalSettings, files: [String]) {
        let s = try CanonicalSettings.read(Settings.self, from: parameters)
        try check(s)
        return (try CanonicalSettings(s), requiredFiles(s))
    }

    /// Runs the stage on the settings a planner encoded.
    func run(_ settings: CanonicalSettings, _ context: StageContext) throws -> StageOutput {
        try run(try settings.decode(Settings.self), context)
    }
}

/// The settings of a stage that takes none.
public struct NoSettings: Codable, Sendable {}

/// What a stage returns (kept in the cache row; artifacts live in the artifact store).
public struct StageOutput: Codable, Equatable, Sendable {
    /// Named scalar results (perplexity, accuracy, parameter counts…).
    public var metrics: [String: Double]
    /// Named per-item results (one value per window or question), for standard errors and paired tests.
    public var series: [String: [Double]]
    /// Named descriptive strings (e.g. the protocol used).
    public var notes: [String: String]

    public init(metrics: [String: Double] = [:], series: [String: [Double]] = [:], notes: [String: String] = [:]) {
        self.metrics = metrics
        self.series = series
        self.notes = notes
    }
}

/// A finished stage as the cache holds it.
public struct StageRecord: Sendable {
    public let key: StageKey
    public let kind: String
    public let output: StageOutput
    /// The artifact's content digest, if the stage wrote one.
    public let artifact: String?
    /// Where the artifact is (inside the artifact store), if any.
    public let artifactURL: URL?
    /// Wall seconds the computation took.
    public let seconds: Double
}

/// Everything a running stage may touch.
public struct StageContext {
    public let label: String
    public let key: StageKey
    public let seed: UInt64
    /// Upstream results by input name.
    public let inputs: [String: StageRecord]
    /// Data files by name (their content hashes are in the key).
    public let files: [String: URL]
    /// Empty directory for the artifact; moved into the store after `run` returns.
    public let artifactDirectory: URL
    /// Survives kills; keyed by the stage key, so it only ever resumes the same computation.
    public let checkpoint: CheckpointDirectory
    /// Call once when a checkpoint let the stage skip `units` of its work (logged; shown by the CLI).
    public let resumed: (Int) -> Void
    /// Receives `progress(done, total, detail)`.
    let reportProgress: (Int, Int, String?) -> Void

    /// Reports `done` of `total` in the stage's own units, with an optional live detail (e.g.
    /// "loss 2.31 · 270 tokens/s") shown beside it.
    public func progress(_ done: Int, _ total: Int, _ detail: String? = nil) {
        reportProgress(done, total, detail)
    }

    /// The upstream result `name` (the planner guarantees it is wired).
    public func input(_ name: String) throws -> StageRecord {
        guard let r = inputs[name] else { throw PipelineError.missingInput(stage: label, input: name) }
        return r
    }

    public func file(_ name: String) throws -> URL {
        guard let f = files[name] else { throw PipelineError.missingInput(stage: label, input: "file " + name) }
        return f
    }
}

/// The stages `qaft` knows, by kind.
public struct StageRegistry: Sendable {
    private var stages: [String: any Stage] = [:]

    public init(_ stages: [any Stage]) {
        for s in stages { self.stages[s.kind] = s }
    }

    /// Every stage implemented so far; methods and tasks add one line each.
    public static let standard = StageRegistry(
        [LoadModelStage(), PerplexityStage(), TaskStage(), GSM8KStage(), DecodeSpeedStage(), LlamaCppSpeedStage(), ReportStage()]
            + MethodRegistry.names.flatMap { [MethodStage(method: $0, training: false), MethodStage(method: $0, training: true)] })

    public func stage(_ kind: String) -> (any Stage)? { stages[kind] }
    public var kinds: [String] { stages.keys.sorted() }
}
