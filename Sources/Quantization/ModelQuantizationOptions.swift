import Models

/// How to quantize every linear of a model.
public struct ModelQuantizationOptions: Codable, Equatable, Sendable {
    public enum Method: String, Codable, CaseIterable, Sendable {
        /// Round to nearest per group, no calibration.
        case rtn
        /// GPTQ/OPTQ with calibration Hessians.
        case gptq
        /// OWQ: GPTQ with each layer's own k weak columns (OWQ score) kept in float, gathered at run time.
        case owq
        /// QEFT: one global weak set for q/k/v/gate/up folded to the tail by Offline Global
        /// Reordering, own sets for o (gathered) and down (folded into gate/up rows).
        case qeft
    }

    public var method: Method
    public var bits: Int
    public var groupSize: Int
    /// k, the weak columns per layer (owq and qeft only).
    public var weakColumns: Int
    /// GPTQ's act-order with static groups (gptq only).
    public var actOrder: Bool
    /// The per-group grid search; also used by the OWQ trial quantizer that scores columns. OWQ
    /// and QEFT specify the L2.4 search (`UniformQuantizer.RangeSearch.owq`); min-max is the GPTQ
    /// default and much faster.
    public var rangeSearch: UniformQuantizer.RangeSearch
    public var percentDamp: Double
    /// One group per output row over all of its low-bit columns (GPTQ's group size −1), instead of
    /// `groupSize` (then ignored). For models such as stories260K, whose widths (64, 172) share no
    /// group size the packed kernels can hold.
    public var perChannel: Bool
    /// QEFT's random-columns ablation (qeft.md §6, claim C3): the global weak set drawn uniformly
    /// at random with this seed instead of QEFT's top k of the summed diag(H); nil: QEFT's own set.
    public var randomWeakColumns: UInt64?

    public init(method: Method, bits: Int, groupSize: Int, weakColumns: Int = 0, actOrder: Bool = false,
                rangeSearch: UniformQuantizer.RangeSearch? = nil, percentDamp: Double = 0.01, perChannel: Bool = false,
                randomWeakColumns: UInt64? = nil) {
        self.method = method
        self.bits = bits
        self.groupSize = groupSize
        self.weakColumns = weakColumns
        self.actOrder = actOrder
        self.rangeSearch = rangeSearch ?? (method == .owq || method == .qeft ? .owq : .minMax)
        self.percentDamp = percentDamp
        self.perChannel = perChannel
        self.randomWeakColumns = randomWeakColumns
    }

    /// The group size a layer with `columns` low-bit input columns is quantized with.
    public func groupSize(columns: Int) -> Int { perChannel ? columns : groupSize }

    /// The group size `PackedWeights` stores for such a layer (a whole-row group rounded up to 16).
    public func packedGroupSize(columns: Int) -> Int { PackedWeights.storedGroupSize(groupSize(columns: columns), cols: columns) }

    public var needsCalibration: Bool { method != .rtn }

    /// Rejects options that cannot quantize a model of shape `config`, naming the option.
    public func validate(for config: LlamaConfig) throws {
        func fail(_ option: String, _ value: Any, _ why: String) -> QuantizationError {
            .invalidOption(option: option, value: "\(value)", reason: why)
        }
        guard BitPacking.supportedBits.contains(bits) else { throw fail("bits", bits, "must be \(BitPacking.supportedBits.lowerBound)...\(BitPacking.supportedBits.upperBound)") }
        if !perChannel {
            guard groupSize > 0, groupSize % 16 == 0 else {
                throw fail("groupSize", groupSize, "must be a positive multiple of 16 (packed storage), or set perChannel")
            }
            for width in config.projectionInputWidths where width % groupSize != 0 {
                throw fail("groupSize", groupSize, "does not divide the input width \(width)")
            }
        }
        switch method {
        case .rtn, .gptq:
            guard weakColumns == 0 else { throw fail("weakColumns", weakColumns, "only owq and qeft keep weak columns") }
        case .owq, .qeft:
            let smallest = config.projectionInputWidths[0]
            guard weakColumns >= 0, weakColumns < smallest else {
                throw fail("weakColumns", weakColumns, "must be in 0..<\(smallest) (the smallest input width)")
            }
        }
        guard !actOrder || method == .gptq else { throw fail("actOrder", actOrder, "only gptq supports act-order") }
        guard randomWeakColumns == nil || method == .qeft else {
            throw fail("randomWeakColumns", randomWeakColumns!, "only qeft draws a global weak set")
        }
        guard percentDamp >= 0, percentDamp.isFinite else { throw fail("percentDamp", percentDamp, "must be ≥ 0") }
        _ = try quantizer()
    }

    func quantizer() throws -> UniformQuantizer {
        try UniformQuantizer(bits: bits, grid: .asymmetric, search: rangeSearch)
    }

    /// OWQ's trial quantizer for column scores: 4-bit, one range per row, the configured search.
    func trialQuantizer() throws -> UniformQuantizer {
        try UniformQuantizer(bits: 4, grid: .asymmetric, search: rangeSearch)
    }
}
