import Foundation
import Tensor

/// How long and how hard to train. Arithmetic: tokens per step ≈ batchSize × mean sequence length;
/// gradient accumulation = batchSize / microBatchSize forward–backward passes per optimizer step.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var steps: Int
    /// Sequences per optimizer step (the effective batch).
    public var batchSize: Int
    /// Sequences per forward–backward pass, packed without padding.
    public var microBatchSize: Int
    public var schedule: LearningRateSchedule
    /// Clip the global gradient norm to this (nil: no clipping).
    public var maxGradientNorm: Float?
    public var seed: UInt64

    public init(steps: Int, batchSize: Int, microBatchSize: Int, schedule: LearningRateSchedule,
                maxGradientNorm: Float? = 1, seed: UInt64 = 0) {
        self.steps = steps
        self.batchSize = batchSize
        self.microBatchSize = microBatchSize
        self.schedule = schedule
        self.maxGradientNorm = maxGradientNorm
        self.seed = seed
    }
}

/// What one optimizer step did, for progress display and loss curves.
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    /// Mean loss per scored token of the step's batch.
    public var loss: Float
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradientNorm: Float
    public var tokensPerSecond: Double
    public var elapsed: Double
    public var eta: Double
}

/// The training loop: seeded data order, gradient accumulation over packed micro-batches, a
/// token-weighted loss (every scored token of the effective batch counts the same, whatever the
/// micro-batch split), global-norm clipping, per-group optimizers, and checkpoints that resume bit
/// for bit.
public final class Trainer {
    public let model: TrainableLlama
    public let groups: [ParameterGroup]
    public let data: [TrainingSequence]
    public let config: TrainingConfig
    public private(set) var step = 0
    public private(set) var cursor = DataCursor()
    public private(set) var random: SeededRandom
    private let order: DataOrder

    public init(model: TrainableLlama, groups: [ParameterGroup], data: [TrainingSequence], config: TrainingConfig) throws {
        if data.isEmpty { throw TrainingError.emptyDataset(file: "(training set)", reason: "no sequences") }
        for (field, v) in [("steps", config.steps), ("batchSize", config.batchSize), ("microBatchSize", config.microBatchSize)] where v < 1 {
            throw TrainingError.invalidConfig(field: field, reason: "must be at least 1, is \(v)")
        }
        let names = groups.flatMap { $0.parameters.map(\.name) }
        if Set(names).count != names.count { throw TrainingError.invalidConfig(field: "groups", reason: "a parameter is in two groups") }
        if let s = data.first(where: { $0.tokens.count > model.rope.maxPositions }) {
            throw TrainingError.sequenceTooLong(length: s.tokens.count, limit: model.rope.maxPositions)
        }
        self.model = model
        self.groups = groups
        self.data = data
        self.config = config
        random = SeededRandom(seed: config.seed)
        order = DataOrder(count: data.count, seed: config.seed)
        fingerprint = try Self.fingerprint(config, data)
    }

    /// FNV-1a of the training settings (canonical JSON) and of every sequence's tokens and
    /// response start: what a checkpoint must have been trained on to be resumed here.
    public let fingerprint: String

    private static func fingerprint(_ config: TrainingConfig, _ data: [TrainingSequence]) throws -> String {
        let json = JSONEncoder()
        json.outputFormatting = .sortedKeys
        var bytes = try json.encode(config)
        for s in data {
            for v in [s.tokens.count, s.responseStart] + s.tokens {
                withUnsafeBytes(of: Int64(v).littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
        return String(Checkpoint.fnv1a(bytes), radix: 16)
    }

    /// One group with every trainable parameter of `model` under AdamW.
    public static func adamWGroup(_ model: TrainableLlama, weightDecay: Float = 0.01) -> [ParameterGroup] {
        [ParameterGroup(name: "adamw", parameters: model.trainableParameters, optimizer: AdamW(weightDecay: weightDecay))]
    }

    private var trainable: [Parameter] { groups.flatMap(\.parameters) }

    /// Runs one optimizer step on the next effective batch.
    public func trainStep() throws -> TrainingProgress {
        let started = DispatchTime.now().uptimeNanoseconds
        let batch = order.take(config.batchSize, from: &cursor).map { data[$0] }
        let scored = batch.reduce(0) { $0 + $1.scoredCount }
        for p in trainable { p.zeroGradient() }
        var nll = 0.0, tokens = 0
        var start = 0
        while start < batch.count {
            let micro = Array(batch[start..<Swift.min(start + config.microBatchSize, batch.count)])
            let loss = try model.forwardBackward(TrainingBatch(micro), lossScale: 1 / Float(Swift.max(scored, 1)),
                                                 random: SeededRandom(seed: random.next()))
            nll += loss.totalNLL
            tokens += micro.reduce(0) { $0 + $1.tokens.count }
            start += config.microBatchSize
        }
        step += 1
        let loss = Float(nll / Double(Swift.max(scored, 1)))
        let norm = gradientNorm()
        guard loss.isFinite, norm.isFinite else { throw TrainingError.nonFiniteLoss(step: step, loss: loss.isFinite ? .nan : loss) }
        if let maxNorm = config.maxGradientNorm, norm > maxNorm {
            for p in trainable { SIMDMath.scale(p.gradient.pointer, p.count, by: maxNorm / norm) }
        }
        let lr = config.schedule.rate(at: step)
        for g in groups { g.optimizer.update(g.parameters, learningRate: lr * g.learningRateScale, step: step) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        return TrainingProgress(step: step, totalSteps: config.steps, loss: loss, learningRate: lr, gradientNorm: norm,
                                tokensPerSecond: Double(tokens) / seconds, elapsed: seconds, eta: 0)
    }

    /// Global L2 norm of all trainable gradients, accumulated in double.
    public func gradientNorm() -> Float {
        var s = 0.0
        for p in trainable {
            let g = p.gradient.pointer
            var i = 0
            while i < p.count {
                let n = Swift.min(4096, p.count - i)
                s += Double(SIMDMath.dot(g + i, g + i, n))
                i += n
            }
        }
        return Float(s.squareRoot())
    }

    /// Trains until `config.steps` (or `stopAfter` steps, for tests that simulate a kill), writing
    /// a checkpoint to `checkpoint` every `checkpointEvery` steps and at the end. `progress` gets
    /// each step with elapsed time and ETA over the whole run. Returns the per-step losses.
    @discardableResult
    public func run(
        stopAfter: Int? = nil, checkpoint: URL? = nil, checkpointEvery: Int = 0,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> [Float] {
        let started = Date(), first = step
        let last = Swift.min(config.steps, stopAfter ?? config.steps)
        var losses: [Float] = []
        var tokens = 0.0
        while step < last {
            var p = try trainStep()
            losses.append(p.loss)
            tokens += p.tokensPerSecond * p.elapsed
            p.elapsed = Date().timeIntervalSince(started)
            p.tokensPerSecond = tokens / p.elapsed
            p.eta = p.elapsed / Double(step - first) * Double(config.steps - step)
            if let url = checkpoint, step == last || (checkpointEvery > 0 && step % checkpointEvery == 0) {
                try save(url)
            }
            progress(p)
        }
        return losses
    }

    /// Mean loss per scored token of `sequences` (no dropout, no gradients), `microBatchSize` at a time.
    public func evaluate(_ sequences: [TrainingSequence]) throws -> BatchLoss {
        var out = BatchLoss(sequenceNLL: [], sequenceTokens: [])
        var start = 0
        while start < sequences.count {
            let l = try model.loss(TrainingBatch(Array(sequences[start..<Swift.min(start + config.microBatchSize, sequences.count)])))
            out.sequenceNLL += l.sequenceNLL
            out.sequenceTokens += l.sequenceTokens
            start += config.microBatchSize
        }
        return out
    }

    private var checkpointTensors: [Checkpoint.Tensor] {
        groups.flatMap { g in g.parameters.map { (name: $0.name, buffer: $0.value, count: $0.count) } + g.optimizer.stateTensors(for: g.parameters) }
    }

    /// Writes parameters, optimizer state, step, generator and data cursor to `url` atomically.
    public func save(_ url: URL) throws {
        try Checkpoint.write(url, step: step, cursor: cursor, random: random, tensors: checkpointTensors, run: fingerprint)
    }

    /// Restores a checkpoint written by `save` from a run with the same parameters, optimizers,
    /// training settings and data (a checkpoint of another run is refused, nothing is changed).
    public func restore(_ url: URL) throws {
        let h = try Checkpoint.read(url, into: checkpointTensors, expectingRun: fingerprint)
        step = h.step
        cursor = h.cursor
        random = h.random
    }
}
