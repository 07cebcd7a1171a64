import Foundation

/// How long and how large a reproduction runs. Manifests state one table once; the profile
/// scales it (see `Experiments/Base.swift` for what each profile sets).
public enum Profile: String, CaseIterable, Codable, Sendable {
    /// stories260K, seconds: the test suite's profile.
    case tiny
    /// SmolLM2-135M, the default profile's tables at smoke-run size (a few fine-tuning steps, small
    /// evaluation subsets): checks that a table runs end to end on the real model, answers nothing.
    case quick
    /// SmolLM2-135M, evaluation subsets and epoch-scale fine-tuning (½ / one epoch of Alpaca; in the
    /// budget study, `Results/budget.md`, every row's held-out loss is lower after one epoch than
    /// after ½, so neither budget has converged): about two hours per table cold on 2 cores.
    case `default`
    /// Full evaluation sets and paper-length training (hours).
    case full
}

/// Where a manifest's model comes from. Paths are relative to the repository root.
public enum ModelSource: Sendable, Equatable {
    /// A model file, and the tokenizer file when the format keeps it apart (llama2.c).
    case file(String, tokenizer: String?)
    /// The SmolLM2-135M-Instruct GGUF that `make setup` fetches (`$QAFT_SMOLLM2` overrides its path).
    case smolLM2
}

/// Post-training quantization of a row's base model.
public struct QuantizationSpec: Sendable {
    /// Names the stage `quantize.<quantizer>` (e.g. `gptq`, `rtn`).
    public var quantizer: String
    public var bits: Int
    public var groupSize: Int
    public var parameters: [String: Value]
    /// Calibration data, when the quantizer reads any (repository-relative path).
    public var calibration: String?

    public init(_ quantizer: String, bits: Int, groupSize: Int, parameters: [String: Value] = [:], calibration: String? = nil) {
        self.quantizer = quantizer
        self.bits = bits
        self.groupSize = groupSize
        self.parameters = parameters
        self.calibration = calibration
    }
}

/// Fine-tuning of a row's model. With a row quantization, the method builds on that stage's
/// whole-model quantization (which must be the base it would make itself), and takes its `bits`
/// and `groupSize` unless the parameters set them.
public struct FineTuningSpec: Sendable {
    /// Names the stage `finetune.<method>` (e.g. `l4q`, `qalora`, `lota-qaf`).
    public var method: String
    /// Method hyper-parameters plus the budget (steps, batch, sequence length, learning rate).
    public var parameters: [String: Value]
    /// Training data (repository-relative path).
    public var data: String
    /// Calibration text, for methods that read activations before training (GPTQ-based bases,
    /// QEFT's weak-column selection, …); repository-relative path.
    public var calibration: String?

    public init(_ method: String, data: String, parameters: [String: Value], calibration: String? = nil) {
        self.method = method
        self.data = data
        self.parameters = parameters
        self.calibration = calibration
    }
}

/// One method row of a table: the chain load → quantize? → fine-tune? that yields its model.
public struct RowSpec: Sendable {
    public var label: String
    /// The paper's name for this row (to put its numbers beside ours); nil = not in the paper.
    public var paperRow: String?
    public var quantization: QuantizationSpec?
    public var fineTuning: FineTuningSpec?

    public init(_ label: String, paperRow: String? = nil, quantization: QuantizationSpec? = nil, fineTuning: FineTuningSpec? = nil) {
        self.label = label
        self.paperRow = paperRow
        self.quantization = quantization
        self.fineTuning = fineTuning
    }
}

/// One evaluation column: a stage run on every row's model.
public struct EvaluationSpec: Sendable {
    public var label: String
    /// The paper's column name; nil = ours only (e.g. an auxiliary perplexity).
    public var paperColumn: String?
    /// Stage kind, e.g. `evaluate-perplexity`.
    public var kind: String
    /// The output metric shown in the table (and its per-item series for paired tests).
    public var metric: String
    public var lowerIsBetter: Bool
    /// Human description of the protocol, copied into every CSV line.
    public var protocolName: String
    public var parameters: [String: Value]
    /// Data files by the stage's names for them (repository-relative paths).
    public var files: [String: String]
    /// Jobs the evaluation of each row is split into (`evaluate-tasks` and `evaluate-perplexity`;
    /// 1 = one job), merged exactly by a cheap stage: see `EvaluationSharding`.
    public var shards = 1

    public init(_ label: String, paperColumn: String? = nil, kind: String, metric: String, lowerIsBetter: Bool,
                protocolName: String, parameters: [String: Value], files: [String: String]) {
        self.label = label
        self.paperColumn = paperColumn
        self.kind = kind
        self.metric = metric
        self.lowerIsBetter = lowerIsBetter
        self.protocolName = protocolName
        self.parameters = parameters
        self.files = files
    }
}

extension EvaluationSpec {
    /// The kind of a column read from each row's model stage instead of an evaluation stage of
    /// its own: a number the row's quantize or fine-tune stage records while it runs (peak
    /// memory, step time, L4Q's clipping error, …). A row without such a stage shows no value.
    public static let modelMetricKind = "model-metric"

    /// A column showing `metric` of each row's model stage (see `modelMetricKind`).
    public static func modelMetric(_ label: String, paperColumn: String? = nil, metric: String, lowerIsBetter: Bool,
                                   description: String) -> EvaluationSpec {
        EvaluationSpec(label, paperColumn: paperColumn, kind: modelMetricKind, metric: metric, lowerIsBetter: lowerIsBetter,
                       protocolName: description, parameters: [:], files: [:])
    }
}

/// A number printed in a paper, with where it is printed.
public struct PaperNumber: Sendable, Codable, Equatable {
    /// e.g. "L4Q Table 2".
    public var source: String
    public var model: String
    public var row: String
    public var column: String
    public var value: Double

    public init(_ source: String, model: String, row: String, column: String, _ value: Double) {
        self.source = source
        self.model = model
        self.row = row
        self.column = column
        self.value = value
    }
}

/// A paper claim restated on two of our cells: `better` beats `worse` on `column` (judged with a
/// paired test over the cells' items), or, with `ratio`, a bound on value(better) / value(worse)
/// for single measurements such as memory or time (judged on the two numbers).
public struct ClaimSpec: Sendable, Codable, Equatable {
    public var id: String
    public var statement: String
    public var source: String
    public var better: Cell
    public var worse: Cell
    /// Set for a ratio claim: `better` is the numerator, `worse` the denominator.
    public var ratio: RatioBound?

    /// value(numerator) / value(denominator) must be ≤ `atMost` and ≥ `atLeast` (where set).
    public struct RatioBound: Sendable, Codable, Equatable {
        public var atMost: Double?
        public var atLeast: Double?
    }

    public struct Cell: Sendable, Codable, Equatable {
        public var row: String
        public var column: String
        public init(_ row: String, _ column: String) { self.row = row; self.column = column }
    }

    public init(_ id: String, _ statement: String, source: String, better: Cell, worse: Cell) {
        self.id = id
        self.statement = statement
        self.source = source
        self.better = better
        self.worse = worse
    }

    /// A ratio claim: value(`numerator`) / value(`denominator`) within [`atLeast`, `atMost`].
    public static func ratio(_ id: String, _ statement: String, source: String, _ numerator: Cell, over denominator: Cell,
                             atMost: Double? = nil, atLeast: Double? = nil) -> ClaimSpec {
        var c = ClaimSpec(id, statement, source: source, better: numerator, worse: denominator)
        c.ratio = RatioBound(atMost: atMost, atLeast: atLeast)
        return c
    }
}

/// A scatter of the rows over two measurements with their Pareto front (QEFT's Figure 1 pair,
/// L4Q's Figure 1): one point per row that has both numbers.
public struct ScatterSpec: Sendable, Codable, Equatable {
    /// A number of a row: an evaluation column's metric (by the column's label), or a metric of
    /// the stage that made the row's model (e.g. `decodeTokensPerSecond`, `trainSeconds`).
    public enum Measure: Sendable, Codable, Equatable {
        case column(String)
        case model(String)
    }

    public struct Axis: Sendable, Codable, Equatable {
        public var measure: Measure
        public var label: String
        public var higherIsBetter: Bool

        public init(_ measure: Measure, label: String, higherIsBetter: Bool) {
            self.measure = measure
            self.label = label
            self.higherIsBetter = higherIsBetter
        }
    }

    /// A second measurement of the x axis of the same rows (another runtime's speed of the same
    /// model), drawn as a second point series named `name` beside the first (`firstName`), each
    /// row's two points joined; the Pareto front stays the first series'.
    public struct Companion: Sendable, Codable, Equatable {
        public var measure: Measure
        public var name: String
        public var firstName: String

        public init(_ measure: Measure, name: String, firstName: String) {
            self.measure = measure
            self.name = name
            self.firstName = firstName
        }
    }

    /// File-name suffix of the figure and its CSV.
    public var name: String
    public var title: String
    public var x: Axis
    public var y: Axis
    public var companion: Companion?

    public init(_ name: String, title: String, x: Axis, y: Axis, companion: Companion? = nil) {
        self.name = name
        self.title = title
        self.x = x
        self.y = y
        self.companion = companion
    }
}

/// One table or figure to reproduce: rows × evaluation columns, the paper's numbers for the same
/// cells, the claims to check, and what to plot. Built per profile by a function in `Experiments/`.
public struct Manifest: Sendable {
    /// Target name (`qaft reproduce <id>`).
    public var id: String
    public var title: String
    /// The Swift file declaring it (for error messages).
    public var source: String
    public var profile: Profile
    public var seed: UInt64
    public var model: ModelSource
    public var rows: [RowSpec]
    public var evaluations: [EvaluationSpec]
    /// Which of the papers' models the CSV puts beside ours, in order of preference (a cell takes
    /// the first model with a number for it, e.g. L4Q's LLaMA-1 7B, else LoTA-QAF's Llama-3.1-8B).
    public var paperModels: [String]
    public var paperNumbers: [PaperNumber]
    public var claims: [ClaimSpec]
    /// Evaluation columns drawn in the figure (bars per row).
    public var figureColumns: [String]
    /// Scatter figures with their Pareto fronts.
    public var scatters: [ScatterSpec]
    /// Sentences for the summary (what is scaled down, what is not testable).
    public var notes: [String]

    public init(id: String, title: String, source: String = #fileID, profile: Profile, seed: UInt64, model: ModelSource,
                rows: [RowSpec], evaluations: [EvaluationSpec], paperModels: [String] = [], paperNumbers: [PaperNumber] = [],
                claims: [ClaimSpec] = [], figureColumns: [String] = [], scatters: [ScatterSpec] = [], notes: [String] = []) {
        self.id = id
        self.title = title
        self.source = source
        self.profile = profile
        self.seed = seed
        self.model = model
        self.rows = rows
        self.evaluations = evaluations
        self.paperModels = paperModels
        self.paperNumbers = paperNumbers
        self.claims = claims
        self.figureColumns = figureColumns
        self.scatters = scatters
        self.notes = notes
    }

    /// Base name of the report files: the id, suffixed by the profile unless it is `default`.
    public var outputName: String { profile == .default ? id : "\(id)-\(profile.rawValue)" }
}
