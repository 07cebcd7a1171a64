import Models
import Quantization
import Training

/// Round-to-nearest post-training quantization: every projection on the b-bit asymmetric grid with
/// an integer zero point and the min-max range of each group (GPTQ's `Quantizer` convention, the
/// "RTN" row of quantization tables). Nothing is trained; the export is fully integer and packed.
///
/// Options: `bits`, `groupSize` (a multiple of 32 dividing every input width: the packed chunk).
public final class RTN: FineTuningMethod {
    public static let name = "rtn"
    public static let version = "1"
    public static let isPostTraining = true
    public let options: MethodOptions
    private var base: QuantizedModel?

    public init(options: MethodOptions) throws {
        _ = try ExtraOptions(options.extra, method: Self.name, allowed: [])
        try options.requirePackable()
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        let q = try quantizeModel(context, options.modelQuantization(.rtn), method: Self.name)
        base = q
        return q.frozen()
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] { [] }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try prepared(base, Self.name).packedExport(trainedForm: model)
    }
}
