import Export
import Export
import Foundation
import Methods
import Models
import Quantization
import Tensor
import Training

/// A registered `FineTuningMethod` as a stage: `quantize.<method>` prepares and exports without
/// training (the post-training rows: RTN, GPTQ, OmniQuant, QEFT's PTQ part, …), `finetune.<method>`
/// also trains on instruction data. The method's version is part of the stage version, so editing
/// a method recomputes exactly its rows.
///
/// Inputs: `model` (the float model), and optionally `base`, the row's quantize stage, whose
/// whole-model quantization the method must reuse (the run fails if the method quantizes with
/// other options instead, so a manifest cannot pair a row's quantizer with a method that ignores it).
/// Files: `calibration` (C4-style JSON Lines) when `calibrationWindows` > 0, `data` for training.
///
/// Parameters: the method options `bits`, `groupSize`, `rank`, `alpha`, `dropout`, `weakColumns`,
/// `targets` (projection names), `extra` (a map of the method's own numbers); `calibrationWindows`
/// and `calibrationLength`; for training `steps`, `sequenceLength` (examples are cut to it),
/// `microBatch`, `accumulation` (sequences per step = microBatch × accumulation), `learningRate`,
/// and optionally `warmup` (fraction, default 0.1), `weightDecay` (default: the method's),
/// `clip` (global-norm clip, default 1, 0 = none), `heldOut` (examples held out to measure the
/// loss before and after, default 0), `heldOutEvery` (also every that many steps and at the last:
/// series `heldOutLoss` at steps `heldOutStep`, step 0 being before training; default 0 = not), `format` (`alpaca`, `gsm8k` or `text`, default alpaca),
/// and `precision` (`fp32`, the default, or `bf16`: the training products' arithmetic,
/// `ComputePrecision`; export and merge stay fp32). The deployed model's decode speed is a stage
/// of its own (`DecodeSpeedStage`).
///
/// A `finetune.*` stage also measures the shape of L4Q Table 1/10/11 on its real run: the process's
/// peak resident memory from just before `prepare` to the end of training (`peakResidentGB`, and
/// `peakAboveStartGB` above what was resident then: the loaded float model and the process
/// around it) and the median
/// optimizer-step time (`stepSeconds`). Stages run one at a time, so the peak is this stage's.
/// Every time and speed it measures has the share of the cores other processes took meanwhile
/// beside it (`MachineLoad`), and a resumed fine-tune records the step it resumed from.
///
/// The artifact is the exported model and its deployed form (`ModelArtifact`), made deployable first
/// (`ExportedModel.makeDeployable`: fp16 grids that llama.cpp and GPTQ compute exactly), so what the
/// evaluations score is the exported file; `mergeDifference` and `deploymentDifference` report the
/// merge and that rounding as largest |logit| changes. Training checkpoints every 30 s
/// (`$QAFT_CHECKPOINT_SECONDS` when set: shorter on a cluster that preempts often, 0 = after every
/// step) into the stage's checkpoint directory, with the loss curve written before the trainer
/// state, so a killed run resumes from its last checkpoint with the same curve. The interval is no
/// part of the stage key: a resumed run is bit-identical to an uninterrupted one, so when state is
/// saved never changes the result.
public struct MethodStage: Stage {
    public let method: String
    public let training: Bool
    public var kind: String { (training ? "finetune." : "quantize.") + method }
    /// Fine-tunes are at 6 since a bf16 stage keeps the FFN's gate/up in bf16 (autocast's rounding);
    /// quantize stages never train and stay at 5.
    public var version: String { (training ? "6+" : "5+") + ((try? MethodRegistry.version(of: method)) ?? "?") }
    public var inputNames: [String] { ["model"] }
    public var fileNames: [String] { training ? ["data"] : [] }
    public var isStochastic: Bool { true }

    public func requiredFiles(_ s: MethodSettings) -> [String] {
        fileNames + ((s.calibrationWindows ?? 0) > 0 ? ["calibration"] : [])
    }

    /// Seconds between training checkpoints: `$QAFT_CHECKPOINT_SECONDS`, else 30.
    static func checkpointSeconds(stage: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TimeInterval {
        guard let text = environment["QAFT_CHECKPOINT_SECONDS"], !text.isEmpty else { return 30 }
        // A malformed value must not silently mean "never checkpoint".
        guard let seconds = TimeInterval(text), seconds >= 0, seconds.isFinite else {
            throw PipelineError.stageFailed(stage: stage, reason: "QAFT_CHECKPOINT_SECONDS=\(text): expected a number of seconds ≥ 0")
        }
        return seconds
    }

    public init(method: String, training: Bool) {
        self.method = method
        self.training = training
    }

    public func check(_ s: MethodSettings) throws {
        try StageParameterError.require("groupSize", s.groupSize, in: 1...1 << 20)
        try StageParameterError.require("rank", s.rank, in: 1...1 << 16)
        try StageParameterError.require("weakColumns", s.weakColumns, in: 0...1 << 20)
        try StageParameterError.require("calibrationWindows", s.calibrationWindows, in: 0...100_000)
        try StageParameterError.require("calibrationLength", s.calibrationLength, in: 2...1 << 20)
        let made = try makeMethod(s)
        if training {
            _ = try TrainingSettings(s)
            // A post-training method has nothing to train; say so before anything runs.
            if made.isPostTraining {
                throw StageParameterError(field: "method", value: method, reason: "a post-training method: use it as a quantization, not a fine-tuning")
            }
        } else if let name = s.trainingFieldsSet.first {
            throw StageParameterError(field: name, value: "(set)", reason: "a quantize stage does not train: fine-tune with finetune.\(method)")
        }
    }

    public func run(_ p: MethodSettings, _ context: StageContext) throws -> StageOutput {
        let source = try context.input("model")
        let loaded = try ModelArtifact.open(source)
        let memo = QuantizationMemo(try context.inputs["base"].flatMap(ModelArtifact.quantizedBase).map { [$0] } ?? [])
        let windows = p.calibrationWindows ?? 0
        var calibration: [[Int]] = []
        if windows > 0 {
            calibration = try CalibrationText.windows(try context.file("calibration"), tokenizer: loaded.tokenizer, count: windows,
                                                      length: p.calibrationLength ?? 512,
                                                      seed: context.seed)
        }
        let made = try makeMethod(p)
        // Freed pages of earlier stages go back first, so the peak below is this fine-tuning's.
        let measuringMemory = training && ResidentMemory.resetPeak()
        let residentAtStart = ResidentMemory.currentBytes()
        let started = Date()
        let model = try made.method.prepare(MethodContext(weights: loaded.weights, calibration: calibration, seed: context.seed,
                                                          quantizations: memo) { done, total in
            context.progress(done, total, "quantizing blocks")
        })
        if context.inputs["base"] != nil, memo.hits == 0 {
            throw PipelineError.stageFailed(stage: context.label, reason: "\(method) does not build on the row's quantization "
                                            + "(\(memo.models.first.map { "\($0.options.method) w\($0.options.bits) g\($0.options.groupSize)" } ?? "none")): "
                                            + "remove the row's quantization or match it to the method's base")
        }
        var output = StageOutput()
        if training {
            let settings = try TrainingSettings(p)
            output = try ComputePrecision.with(settings.precision) { try train(made.method, model, loaded, settings, context) }
            // What ran, with the reason when a bf16 request fell back to fp32 on this CPU.
            let effective = ComputePrecision.effective(settings.precision)
            output.notes["computePrecision"] = effective.precision.rawValue + (effective.reason.map { " (\($0))" } ?? "")
            if measuringMemory {
                let peak = ResidentMemory.peakBytes()
                output.metrics["peakResidentGB"] = Double(peak) / 1e9
                output.metrics["peakAboveStartGB"] = Double(peak - residentAtStart) / 1e9
            }
        }
        let exported = try made.method.export(model)
        output.metrics["bitsPerWeight"] = exported.bitsPerWeight
        if let d = exported.mergeDifference { output.metrics["mergeDifference"] = Double(d) }
        // What the stage evaluates and exports is the deployable form (fp16 grids) of what trained.
        output.metrics["deploymentDifference"] = Double(try exported.makeDeployable())
        for (k, v) in exported.metrics { output.metrics[k] = v }
        output.metrics["seconds"] = Date().timeIntervalSince(started)
        output.notes["precision"] = exported.precision.description
        output.notes["method"] = "\(method) \(version)"
        // A quantize stage keeps the whole-model quantization it made, for the rows built on it.
        let base = training || context.inputs["base"] != nil ? nil : memo.models.count == 1 ? memo.models.first : nil
        try ModelArtifact.write(exported.model.denseWeights(), tokenizerFrom: source, base: base, deployed: try DeployedModel(exported.model),
                                into: context.artifactDirectory)
        context.progress(1, 1)
        return output
    }

    private func makeMethod(_ s: MethodSettings) throws -> (method: any FineTuningMethod, isPostTraining: Bool) {
        var o = MethodOptions()
        if let v = s.bits { o.bits = v }
        if let v = s.groupSize { o.groupSize = v }
        if let v = s.rank { o.rank = v }
        if let v = s.alpha { o.alpha = Float(v) }
        if let v = s.dropout { o.dropout = Float(v) }
        if let v = s.weakColumns { o.weakColumns = v }
        if let v = s.targets { o.targets = v }
        if let v = s.extra { o.extra = v }
        do {
            if s.bits != nil { try MethodOptions.validateBits(o.bits) }
            let m = try MethodRegistry.make(method, options: o)
            return (m, m.isPostTraining)
        } catch MethodError.invalidOption(let option, let value, let reason) {
            throw StageParameterError(field: option, value: value, reason: reason)
        }
    }

    /// The training half of a `finetune.*` stage: returns the loss curve and training numbers.
    private func train(_ method: any FineTuningMethod, _ model: TrainableLlama, _ loaded: LoadedModel,
                       _ s: TrainingSettings, _ context: StageContext) throws -> StageOutput {
        let dataURL = try context.file("data")
        let examples = try InstructionData.load(dataURL, format: s.format)
        let dataset = try InstructionDataset(examples, tokenizer: loaded.tokenizer, maxLength: s.sequenceLength,
                                             contextLength: loaded.config.contextLength, source: dataURL.path)
        let (train, heldOut) = s.heldOut > 0 ? dataset.split(heldOut: s.heldOut, seed: context.seed) : (dataset.sequences, [])
        if s.heldOut > 0, heldOut.isEmpty {
            throw StageParameterError(field: "heldOut", value: String(s.heldOut),
                                      reason: "\(dataURL.lastPathComponent) has \(dataset.sequences.count) example(s): none can be held out")
        }
        let groups = s.weightDecay.map { method.parameterGroups(model).withAdamWWeightDecay(Float($0)) } ?? method.parameterGroups(model)
        let config = TrainingConfig(
            steps: s.steps, batchSize: s.microBatch * s.accumulation, microBatchSize: s.microBatch,
            schedule: LearningRateSchedule(peak: Float(s.learningRate), warmupSteps: Int((s.warmup * Double(s.steps)).rounded()),
                                           totalSteps: s.steps),
            maxGradientNorm: s.clip > 0 ? Float(s.clip) : nil, seed: context.seed)
        let trainer = try Trainer(model: model, groups: groups, data: train, config: config)
        var output = StageOutput()
        if !heldOut.isEmpty { output.metrics["heldOutLossBefore"] = try trainer.evaluate(heldOut).meanNLL }

        let state = context.checkpoint.url.appendingPathComponent("trainer.ckpt")
        var losses = try context.checkpoint.load([Float].self, as: "losses") ?? []
        // (step, loss) on the held-out split, saved with the training curve.
        var heldOutCurve = try context.checkpoint.load([[Double]].self, as: "heldOut") ?? []
        if FileManager.default.fileExists(atPath: state.path) {
            try trainer.restore(state)
            // The curves are saved before the trainer state, so they are never behind the state's step.
            guard losses.count >= trainer.step else {
                throw PipelineError.artifact(path: state.path, reason: "checkpoint at step \(trainer.step) but \(losses.count) losses")
            }
            losses.removeLast(losses.count - trainer.step)
            heldOutCurve.removeAll { $0[0] > Double(trainer.step) }
            context.resumed(trainer.step)
            output.metrics[MachineLoad.resumedAtStep] = Double(trainer.step)
        } else {
            losses = []
            heldOutCurve = output.metrics["heldOutLossBefore"].map { [[0, $0]] } ?? []
        }
        func measureHeldOut() throws {
            guard s.heldOutEvery > 0, trainer.step % s.heldOutEvery == 0 || trainer.step == s.steps,
                  heldOutCurve.last?[0] != Double(trainer.step) else { return }
            heldOutCurve.append([Double(trainer.step), try trainer.evaluate(heldOut).meanNLL])
        }
        let checkpointSeconds = try Self.checkpointSeconds(stage: context.label)
        let started = Date(), load = MachineLoad.now()
        var lastSave = Date(), tokens = 0.0, stepTimes: [Double] = []
        while trainer.step < s.steps {
            let p = try trainer.trainStep()
            losses.append(p.loss)
            stepTimes.append(p.elapsed)
            tokens += p.tokensPerSecond * p.elapsed
            try measureHeldOut()
            if Date().timeIntervalSince(lastSave) >= checkpointSeconds, trainer.step < s.steps {
                try context.checkpoint.save(losses, as: "losses")
                try context.checkpoint.save(heldOutCurve, as: "heldOut")
                try trainer.save(state)
                lastSave = Date()
            }
            let elapsed = Date().timeIntervalSince(started)
            context.progress(trainer.step, s.steps, String(format: "loss %.4f · %.0f tokens/s", p.loss, tokens / max(elapsed, 1e-9)))
        }
        let tail = losses.suffix(max(1, losses.count / 10))
        output.metrics["finalLoss"] = Double(tail.reduce(0, +)) / Double(tail.count)
        output.metrics["trainableParameters"] = Double(model.trainableParameters.reduce(0) { $0 + $1.count })
        output.metrics["trainingSequences"] = Double(train.count)
        output.metrics["trainSeconds"] = Date().timeIntervalSince(started)
        if !stepTimes.isEmpty { output.metrics["stepSeconds"] = stepTimes.sorted()[stepTimes.count / 2] }
        output.metrics["tokensPerSecond"] = tokens / max(Date().timeIntervalSince(started), 1e-9)
        MachineLoad.record(since: load, for: ["trainSeconds", "stepSeconds", "tokensPerSecond"], in: &output.metrics)
        if !heldOut.isEmpty {
            // The last point of the curve is this measurement when the curve reached the last step.
            let last = heldOutCurve.last.flatMap { $0[0] == Double(s.steps) ? $0[1] : nil }
            output.metrics["heldOutLossAfter"] = try last ?? trainer.evaluate(heldOut).meanNLL
        }
        output.series["loss"] = losses.map(Double.init)
        if s.heldOutEvery > 0 {
            output.series["heldOutStep"] = heldOutCurve.map { $0[0] }
            output.series["heldOutLoss"] = heldOutCurve.map { $0[1] }
        }
        return output
    }
}

/// The settings of a `quantize.*` or `finetune.*` stage (see `MethodStage` for each field).
/// Unset fields take the method's defaults (`MethodOptions`) or the documented ones; a quantize
/// stage takes none of the training fields.
public struct MethodSettings: Codable, Sendable, Equatable {
    public var bits, groupSize, rank, weakColumns: Int?
    public var alpha, dropout: Double?
    public var targets: [Projection]?
    public var extra: [String: Double]?
    public var calibrationWindows, calibrationLength: Int?
    public var steps, sequenceLength, microBatch, accumulation, heldOut, heldOutEvery: Int?
    public var learningRate, warmup, weightDecay, clip: Double?
    public var format: InstructionData.Format?
    public var precision: ComputePrecision?

    /// The names of the training fields that are set.
    var trainingFieldsSet: [String] {
        [("steps", steps != nil), ("sequenceLength", sequenceLength != nil), ("microBatch", microBatch != nil),
         ("accumulation", accumulation != nil), ("heldOut", heldOut != nil), ("heldOutEvery", heldOutEvery != nil), ("learningRate", learningRate != nil),
         ("warmup", warmup != nil), ("weightDecay", weightDecay != nil), ("clip", clip != nil), ("format", format != nil),
         ("precision", precision != nil)]
            .filter(\.1).map(\.0)
    }
}

/// The training settings of a `finetune.*` stage, checked, with their defaults.
struct TrainingSettings {
    let steps, sequenceLength, microBatch, accumulation, heldOut, heldOutEvery: Int
    let learningRate, warmup, clip: Double
    let weightDecay: Double?
    let format: InstructionData.Format
    let precision: ComputePrecision

    init(_ s: MethodSettings) throws {
        func required<T>(_ v: T?, _ field: String) throws -> T {
            guard let v else { throw StageParameterError(field: field, value: "(missing)", reason: "required") }
            return v
        }
        steps = try required(s.steps, "steps")
        sequenceLength = try required(s.sequenceLength, "sequenceLength")
        microBatch = try required(s.microBatch, "microBatch")
        accumulation = try required(s.accumulation, "accumulation")
        learningRate = try required(s.learningRate, "learningRate")
        try StageParameterError.require("steps", steps, in: 1...10_000_000)
        try StageParameterError.require("sequenceLength", sequenceLength, in: 2...1 << 20)
        try StageParameterError.require("microBatch", microBatch, in: 1...4096)
        try StageParameterError.require("accumulation", accumulation, in: 1...1 << 20)
        guard learningRate > 0, learningRate.isFinite else {
            throw StageParameterError(field: "learningRate", value: "\(learningRate)", reason: "expected a positive number")
        }
        warmup = s.warmup ?? 0.1
        guard (0...1).contains(warmup) else { throw StageParameterError(field: "warmup", value: "\(warmup)", reason: "expected a fraction in 0...1") }
        clip = s.clip ?? 1
        guard clip >= 0 else { throw StageParameterError(field: "clip", value: "\(clip)", reason: "expected ≥ 0 (0: no clipping)") }
        weightDecay = s.weightDecay
        heldOut = s.heldOut ?? 0
        try StageParameterError.require("heldOut", heldOut, in: 0...1 << 20)
        heldOutEvery = s.heldOutEvery ?? 0
        try StageParameterError.require("heldOutEvery", heldOutEvery, in: 0...1 << 30)
        if heldOutEvery > 0, heldOut == 0 {
            throw StageParameterError(field: "heldOutEvery", value: String(heldOutEvery), reason: "needs heldOut > 0 examples to measure on")
        }
        format = s.format ?? .alpaca
        precision = s.precision ?? .fp32
    }
}

extension FineTuningMethod {
    var isPostTraining: Bool { Self.isPostTraining }
}
