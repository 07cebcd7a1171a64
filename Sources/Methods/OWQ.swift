import Models
import Quantization
import Training

/// OWQ post-training quantization (Lee et al., AAAI 2024; qeft.md §1.2–1.3): GPTQ on each layer's
/// low-bit columns, with the k input columns of highest OWQ score (Hessian diagonal × trial
/// quantization error) kept in float and gathered at run time — QEFT's quantizer without its
/// global reordering and without tuning. Nothing is trained; the export packs the codes beside the
/// float weak columns ("b&16" when k > 0).
///
/// Options: `bits`, `groupSize`, `weakColumns` (k ≥ 0); `extra["minMaxGrid"] = 1` replaces OWQ's
/// L2.4 range search by min-max ranges (fast, not the paper's grid); `extra["perChannel"] = 1`
/// quantizes each row's low-bit columns as one group (for widths no packable group size
/// divides). Needs `MethodContext.calibration`.
public final class OWQ: FineTuningMethod {
    public static let name = "owq"
    public static let version = "1"
    public static let isPostTraining = true
    public let options: MethodOptions
    let minMaxGrid: Bool
    let perChannel: Bool
    private var base: QuantizedModel?

    public init(options: MethodOptions) throws {
        let extra = try ExtraOptions(options.extra, method: Self.name, allowed: ["minMaxGrid", "perChannel"])
        minMaxGrid = try extra.flag("minMaxGrid")
        perChannel = try extra.flag("perChannel")
        guard options.weakColumns >= 0 else {
            throw MethodError.invalidOption(option: "weakColumns", value: "\(options.weakColumns)", reason: "must be ≥ 0")
        }
        try options.requirePackable(perChannel: perChannel)
        self.options = options
    }

    public func prepare(_ context: MethodContext) throws -> TrainableLlama {
        var quantization = options.modelQuantization(.owq, perChannel: perChannel)
        if minMaxGrid { quantization.rangeSearch = .minMax }
        let q = try quantizeModel(context, quantization, method: Self.name)
        base = q
        return q.frozen()
    }

    public func parameterGroups(_ model: TrainableLlama) -> [ParameterGroup] { [] }

    public func export(_ model: TrainableLlama) throws -> ExportedModel {
        try prepared(base, Self.name).packedExport(trainedForm: model)
    }
}
