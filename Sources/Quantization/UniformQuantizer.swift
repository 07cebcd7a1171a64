import Tensor

/// Uniform b-bit round-to-nearest quantization, per group of consecutive weights along the input
/// dimension of each output row. Codes are always stored unsigned (0…2^b−1); a signed grid is the
/// unsigned one shifted by its zero point 2^(b−1).
public struct UniformQuantizer: Codable, Equatable, Sendable {
    public enum Grid: String, Codable, Sendable {
        /// GPTQ/OWQ: integer zero point, range stretched to include 0 so 0 is exactly representable.
        case asymmetric
        /// Q4_1 / LoTA-QAF Eq. 2: the grid spans exactly [min, max]; the zero point is fractional.
        case affine
        /// Signed codes −2^(b−1)…2^(b−1)−1 around 0 (L4Q).
        case symmetric
    }

    public enum RangeSearch: Codable, Equatable, Sendable {
        /// Range from the group's extremes (asymmetric: GPTQ's min/max including 0; symmetric:
        /// L4Q_init `s = max(|min|/2^(b−1), |max|/(2^(b−1)−1))`, which never clips).
        case minMax
        /// OWQ/QEFT `tuning='mse'`: try `candidates` shrunken ranges (× every zero shift when
        /// asymmetric) and keep the one minimising Σ|w − ŵ|^norm (norm 2.4 upstream).
        case lpNorm(candidates: Int, norm: Float)

        /// QEFT's per-group search inside GPTQ and the OWQ trial quantizer: 40 candidates, norm 2.4.
        public static let owq = RangeSearch.lpNorm(candidates: 40, norm: 2.4)
    }

    public let bits: Int
    public let grid: Grid
    public let search: RangeSearch

    public init(bits: Int, grid: Grid = .asymmetric, search: RangeSearch = .minMax) throws {
        guard BitPacking.supportedBits.contains(bits) else {
            throw QuantizationError.invalidOption(option: "bits", value: "\(bits)", reason: "must be 2…8")
        }
        if case .lpNorm(let n, let p) = search {
            guard n >= 1 else {
                throw QuantizationError.invalidOption(option: "search.candidates", value: "\(n)", reason: "must be ≥ 1")
            }
            guard p > 0, p.isFinite else {
                throw QuantizationError.invalidOption(option: "search.norm", value: "\(p)", reason: "must be positive")
            }
            guard grid != .affine else {
                throw QuantizationError.invalidOption(
                    option: "search", value: "lpNorm",
                    reason: "the L_p grid search is defined (as in OWQ) for the asymmetric and symmetric grids only")
            }
        }
        self.bits = bits
        self.grid = grid
        self.search = search
    }

    public var maxCode: Int { (1 << bits) - 1 }
    /// Magnitude of the most negative signed code, 2^(b−1).
    var signedHalf: Float { Float(1 << (bits - 1)) }

    /// Scale and zero point for one group of weights, deployable (`GridParameters.deployable`).
    public func parameters(_ w: UnsafeBufferPointer<Float>) -> GridParameters {
        searchedParameters(w).deployable(bits: bits)
    }

    private func searchedParameters(_ w: UnsafeBufferPointer<Float>) -> GridParameters {
        if case .lpNorm(let n, let p) = search {
            return LpRangeSearch(quantizer: self, candidates: n, norm: p).parameters(w)
        }
        var lo = Float.infinity, hi = -Float.infinity
        for v in w { lo = min(lo, v); hi = max(hi, v) }
        let maxq = Float(maxCode)
        switch grid {
        case .asymmetric:
            lo = min(lo, 0); hi = max(hi, 0)
            if lo == 0 && hi == 0 { lo = -1; hi = 1 }
            let scale = (hi - lo) / maxq
            return GridParameters(scale: scale, zero: (-lo / scale).rounded(.toNearestOrEven))
        case .affine:
            // A constant group keeps its value exactly at code 0; any positive scale will do.
            let scale = hi > lo ? (hi - lo) / maxq : max(abs(lo), 1)
            return GridParameters(scale: scale, zero: -lo / scale)
        case .symmetric:
            let s = max(abs(min(lo, 0)) / signedHalf, max(hi, 0) / (signedHalf - 1))
            return GridParameters(scale: s > 0 ? s : 1, zero: signedHalf)
        }
    }

    /// The stored code of one weight. Integer zero points follow the reference `round(w/s) + z`
    /// (round half to even, like torch/numpy); the fractional affine zero rounds `w/s + z`.
    @inlinable
    public func code(_ w: Float, _ p: GridParameters) -> UInt8 {
        let t = grid == .affine
            ? (w / p.scale + p.zero).rounded(.toNearestOrEven)
            : (w / p.scale).rounded(.toNearestOrEven) + p.zero
        return UInt8(min(max(t, 0), Float(maxCode)))
    }

    @inlinable
    public func fakeQuantize(_ w: Float, _ p: GridParameters) -> Float {
        p.scale * (Float(code(w, p)) - p.zero)
    }

    /// Quantizes every row of `weight` in groups of `groupSize` input columns.
    public func quantize(_ weight: Matrix, groupSize: Int) throws -> QuantizedMatrix {
        guard groupSize > 0, weight.cols % groupSize == 0 else {
            throw QuantizationError.invalidOption(
                option: "groupSize", value: "\(groupSize)",
                reason: "must be positive and divide the input features (\(weight.cols))")
        }
        let groups = weight.cols / groupSize
        var q = QuantizedMatrix(rows: weight.rows, cols: weight.cols, bits: bits, groupSize: groupSize)
        weight.storage.withUnsafeBufferPointer { w in
            for r in 0..<weight.rows {
                for g in 0..<groups {
                    let start = r * weight.cols + g * groupSize
                    let group = UnsafeBufferPointer(rebasing: w[start..<(start + groupSize)])
                    let p = parameters(group)
                    q.setParameters(row: r, group: g, p)
                    for (j, v) in group.enumerated() { q.codes[start + j] = code(v, p) }
                }
            }
        }
        return q
    }

    /// `weight` replaced by its dequantized quantization (what the model computes with).
    public func fakeQuantize(_ weight: Matrix, groupSize: Int) throws -> Matrix {
        try quantize(weight, groupSize: groupSize).dequantized()
    }
}
