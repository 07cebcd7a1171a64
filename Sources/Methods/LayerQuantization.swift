import Models
import Quantization

/// How the integer-exporting methods (L4Q, QAT-LoRA, PEQA, full QAT) read the shared options: the
/// bit width and the group layout. Groups are `groupSize` consecutive inputs of one output row, or,
/// with `extra["perChannel"] = 1`, the whole row (one step per output channel) — needed for models
/// such as stories260K whose widths (64, 172) share no group size the packed format can hold.
struct LayerQuantization: Equatable {
    let bits: Int
    let perChannel: Bool
    let groupSize: Int
    /// Which factor multiplies the s and b gradients (`extra["lsqGradientScale"] = 1`: LSQ's
    /// 1/√(groupSize·Q_P); default g = 1).
    let gradientScale: LearnedStepQuantizer.GradientScale
    /// How learned steps and offsets start (`extra["init"]`: 0 L4Q_init, the default; 1 Asymm;
    /// 2 Symm; 3 LSQ+init — L4Q App. B).
    let initialization: LearnedStepQuantizer.Initialization

    /// The `extra` keys read here.
    static let extraKeys = ["perChannel", "lsqGradientScale", "init"]

    /// Checks what needs no model: the bit width, the group size's packability and the flags.
    init(_ options: MethodOptions, extra: ExtraOptions) throws {
        try MethodOptions.validateBits(options.bits)
        bits = options.bits
        perChannel = try extra.flag("perChannel")
        gradientScale = try extra.flag("lsqGradientScale") ? .lsq : .one
        initialization = .init(rawValue: Int(try extra.number("init", default: 0, requirement: "0, 1, 2 or 3") {
            $0 == $0.rounded() && (0...3).contains($0)
        }))!
        groupSize = options.groupSize
        if !perChannel, groupSize <= 0 || groupSize % 16 != 0 {
            throw MethodError.invalidOption(option: "groupSize", value: "\(groupSize)",
                                            reason: "integer export packs groups of a positive multiple of 16 weights (or set extra.perChannel = 1)")
        }
    }

    /// Checks the group size against the model's input widths.
    func validate(for config: LlamaConfig) throws {
        if !perChannel { try MethodOptions(bits: bits, groupSize: groupSize).validateQuantization(for: config) }
    }

    /// The group size of a layer with `inputs` input features.
    func groupSize(inputs: Int) -> Int { perChannel ? inputs : groupSize }

    /// The group size as `PackedWeights` stores it: a whole-row group rounded up to a multiple of 16
    /// (still one group per row, the last and only group being short).
    func packedGroupSize(inputs: Int) -> Int { PackedWeights.storedGroupSize(groupSize(inputs: inputs), cols: inputs) }

    /// Packed storage holds 2, 3, 4 or 8 bits; 5–7-bit codes are stored in bytes.
    var storageBits: Int { BitPacking.supportedBits.contains(bits) ? bits : 8 }

    /// The learned-step quantizer of a layer with `inputs` input features.
    func learnedStep(inputs: Int) -> LearnedStepQuantizer {
        LearnedStepQuantizer(bits: bits, groupSize: groupSize(inputs: inputs), gradientScale: gradientScale,
                             initialization: initialization)
    }

    /// An empty quantized matrix laid out for packing.
    func emptyMatrix(rows: Int, cols: Int) -> QuantizedMatrix {
        QuantizedMatrix(rows: rows, cols: cols, bits: storageBits, groupSize: packedGroupSize(inputs: cols))
    }
}
