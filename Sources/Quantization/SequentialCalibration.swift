import Models
import Tensor

/// The four input statistics of one block: q/k/v share the attention input, gate/up the MLP input.
public struct BlockStatistics: Sendable {
    public var inputs: [Projection.Input: HessianAccumulator]

    /// The accumulator of the input `site` reads.
    public func hessian(for site: Projection) -> HessianAccumulator { inputs[site.input]! }
}

/// GPTQ's block-by-block calibration walk (qeft.md §1.2). The calibration windows are embedded
/// once; then for each block l: its inputs run through it with recorders on its projections
/// (every linear of the block collects its Hessian in that one pass, GPTQ without
/// `--true-sequential`), `body` turns the statistics into replacement layers, those are installed,
/// and the block runs again to produce the inputs of block l + 1, so later blocks see the
/// already-quantized earlier ones. With no replacements, the walk propagates the unchanged model
/// (QEFT's global-index pass).
///
/// Memory: the hidden states of all windows (windows · length · dim floats) plus one batch's
/// workspace; windows go through the model `batchSize` at a time.
public struct SequentialCalibration {
    public let windows: [[Int]]
    public let batchSize: Int

    public init(windows: [[Int]], batchSize: Int = 8) throws {
        guard !windows.isEmpty else {
            throw QuantizationError.invalidOption(option: "calibrationWindows", value: "0", reason: "need at least one window")
        }
        guard batchSize > 0 else {
            throw QuantizationError.invalidOption(option: "batchSize", value: "\(batchSize)", reason: "must be positive")
        }
        self.windows = windows
        self.batchSize = batchSize
    }

    /// Walks `model`'s blocks in order; `body(l, statistics)` returns the layers to install in
    /// block l (sites it leaves out keep their current layer).
    public func run(_ model: Llama,
                    _ body: (Int, BlockStatistics) throws -> [Projection: any LinearOperator]) throws {
        let batches = stride(from: 0, to: windows.count, by: batchSize).map { i in
            TokenBatch(sequences: Array(windows[i..<min(i + batchSize, windows.count)]))
        }
        var hidden = try batches.map { try model.embed($0) }
        for l in model.blocks.indices {
            let original = model.blocks[l]
            let c = model.config
            let dims = Dictionary(Projection.allCases.map { ($0.input, $0.inputWidth(c)) }, uniquingKeysWith: { a, _ in a })
            let recorders = Dictionary(uniqueKeysWithValues: dims.map { ($0.key, HessianRecorder(dimension: $0.value)) })
            for site in Projection.allCases {
                // One recorder per input: the first site reading it records, the others only forward.
                let first = Projection.allCases.first { $0.input == site.input } == site
                model.blocks[l][site] = RecordingLinear(original[site], recorder: recorders[site.input]!, records: first)
            }
            for (b, batch) in batches.enumerated() {
                var scratch = hidden[b]
                for r in recorders.values { r.samplesPerCall = batch.sequences.count }
                try model.runBlocks(l..<(l + 1), hidden: &scratch, batch: batch)
            }
            model.blocks[l] = original
            let replacements = try body(l, BlockStatistics(inputs: recorders.mapValues(\.accumulator)))
            for (site, layer) in replacements { model.blocks[l][site] = layer }
            for (b, batch) in batches.enumerated() { try model.runBlocks(l..<(l + 1), hidden: &hidden[b], batch: batch) }
        }
    }
}

/// The Hessian being accumulated for one block input.
final class HessianRecorder {
    var accumulator: HessianAccumulator
    /// Sequences in the batch being run: GPTQ counts one sample per sequence.
    var samplesPerCall = 1

    init(dimension: Int) { accumulator = HessianAccumulator(dimension: dimension) }
}

/// A projection that adds its input rows to a Hessian, then runs the layer it wraps.
final class RecordingLinear: LinearOperator {
    let base: any LinearOperator
    let recorder: HessianRecorder
    let records: Bool
    var inFeatures: Int { base.inFeatures }
    var outFeatures: Int { base.outFeatures }

    init(_ base: any LinearOperator, recorder: HessianRecorder, records: Bool) {
        self.base = base
        self.recorder = recorder
        self.records = records
    }

    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        if records { recorder.accumulator.add(rows: x, count: rows, samples: recorder.samplesPerCall) }
        base.apply(x, rows: rows, into: y)
    }
}
