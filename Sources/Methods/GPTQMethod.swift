import Models
import Quantization
import Training

/// GPTQ post-training quantization (Frantar et al.), the "GPTQ" baseline of L4Q's tables: block by
/// block over the calibration windows, each projection quantized column by column with its error
/// spread over the remaining columns through the inverse Hessian of its input (asymmetric grid,
/// integer zero points, min-max group ranges, 1 % damping, lazy blocks of 128 columns: the
/// reference defaults). Nothing is trained; the export is fully integer and packed.
///
/// Options: `bits`, `groupSize`; `extra["actOrder"] = 1` processes columns by decreasing Hessian
/// diagonal (static groups; off by default, as in the papers' runs); `extra["perChannel"] = 1`
/// quantizes each output row as one group (for widths no packable group size divides, such as
/// stories260K's). Needs `MethodContext.calibration`.
public final class GPTQMethod: FineTuningMethod {
    public static let name = "gptq"
    public static let version = "1"
    public static let isPostTraining = true
    public let options: MethodOptions
    let actOrder: Bool
    let perChannel: Bool
    private var base: QuantizedModel?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["actOrder", "perChannel"])
        actOrder = try extra.flag("actOrder")
        perChannel = try extra.flag("perChannel")
        try options.requirePackable(perChannel: perChannel)
        self.options = options
    }

    /// The GPTQ-quantized model (shared with GPTQ+LoRA).
    func quantize(_ context: MethodContext) throws -> QuantizedModel {
        try quantizeModel(context, options.modelQuantization(.gptq, actOrder: actOrder, perChannel: perChannel), method: Self.name)
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        let q = try quantize(context)
        base = q
        return q.frozen()
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] { [] }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try prepared(base, Self.name).packedExport(trainedForm: model)
    }
}
