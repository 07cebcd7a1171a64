import Models
import Quantization
import Tensor
import Training

/// What the methods built on Quantization's whole-model quantizer share (RTN, GPTQ, OWQ, GPTQ+LoRA,
/// QEFT): the shared options turned into `ModelQuantizationOptions`, the calibration check, and
/// the PTQ export.
extension MethodOptions {
    /// Rejects a group size the packed export cannot store (a positive multiple of 16), unless the
    /// groups are whole rows.
    func requirePackable(perChannel: Bool = false) throws {
        guard perChannel || (groupSize > 0 && groupSize % 16 == 0) else {
            throw MethodError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                            reason: "packed export needs a positive multiple of 16 (or set extra.perChannel = 1)")
        }
    }

    /// The whole-model quantizer's options for `method` (k = `weakColumns` for OWQ/QEFT only).
    func modelQuantization(_ method: ModelQuantizationOptions.Method, actOrder: Bool = false,
                           perChannel: Bool = false) -> ModelQuantizationOptions {
        ModelQuantizationOptions(method: method, bits: bits, groupSize: groupSize,
                                 weakColumns: method == .owq || method == .qeft ? weakColumns : 0, actOrder: actOrder,
                                 perChannel: perChannel)
    }
}

/// Runs `ModelQuantizer` with `context`'s calibration windows (required unless RTN), turning its
/// option errors into `MethodError`s that name the method option.
func quantizeModel(_ context: MethodContext, _ options: ModelQuantizationOptions, method: String) throws -> QuantizedModel {
    if options.needsCalibration, context.calibration.isEmpty {
        throw MethodError.invalidOption(option: "calibration", value: "[]",
                                        reason: "\(method) needs calibration token windows in MethodContext.calibration")
    }
    do {
        try options.validate(for: context.weights.config)
    } catch QuantizationError.invalidOption(let option, let value, let reason) {
        throw MethodError.invalidOption(option: option, value: value, reason: reason)
    }
    let compute = {
        try ModelQuantizer.quantize(context.weights, options: options, calibration: options.needsCalibration ? context.calibration : nil,
                                   progress: context.progress)
    }
    return try context.quantizations?.model(options, compute: compute) ?? compute()
}

extension QuantizedModel {
    /// The PTQ training form: the dequantized weights, every projection frozen.
    func frozen() -> TrainableLlama { TrainableLlama(weights) }

    /// The PTQ export on packed kernels, compared with `trainedForm`: fully integer ("b" in the
    /// tables), or "b&16" when OWQ keeps weak columns in float beside the codes.
    func packedExport(trainedForm model: TrainableLlama) throws -> ExportedModel {
        let exported = llama()
        let precision: DeployedPrecision = options.weakColumns > 0 ? .mixed(bits: options.bits) : .integer(bits: options.bits)
        return ExportedModel(model: exported, precision: precision, bitsPerWeight: bitsPerWeight,
                             mergeDifference: try logitDifference(model.inferenceModel(weights), exported))
    }
}
