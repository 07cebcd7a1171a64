import Foundation

/// How a model rescales its RoPE frequencies θ_i = base^(−2i/d) (i < d/2) to reach longer contexts,
/// as transformers' `rope_scaling` / `rope_parameters` and llama.cpp's GGUF describe it.
public enum RoPEScaling: Codable, Equatable, Sendable {
    /// The plain frequencies.
    case none
    /// Position interpolation: every frequency divided by `factor` (transformers' "linear").
    case linear(factor: Double)
    /// Llama 3.1's rule (transformers' "llama3"): wavelengths above originalContext / lowFrequencyFactor
    /// are divided by `factor`, below originalContext / highFrequencyFactor kept, and interpolated between.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
    /// One divisor per frequency, as llama.cpp's converter stores Llama 3's rule in the `rope_freqs` tensor.
    case frequencyFactors([Float])

    /// The per-frequency divisors this scaling applies to θ_i, i < headDim / 2.
    public func divisors(headDim: Int, theta: Double) -> [Double] {
        let half = headDim / 2
        switch self {
        case .none:
            return .init(repeating: 1, count: half)
        case .linear(let factor):
            return .init(repeating: factor, count: half)
        case .frequencyFactors(let f):
            return f.map(Double.init)
        case let .llama3(factor, low, high, original):
            let lowWavelength = Double(original) / low, highWavelength = Double(original) / high
            return (0..<half).map { i in
                let wavelength = 2 * Double.pi * Foundation.pow(theta, Double(2 * i) / Double(headDim))
                if wavelength < highWavelength { return 1 }
                if wavelength > lowWavelength { return factor }
                let smooth = (Double(original) / wavelength - low) / (high - low)
                return 1 / ((1 - smooth) / factor + smooth)
            }
        }
    }

    /// The scaled frequencies θ_i / divisor_i.
    public func frequencies(headDim: Int, theta: Double) -> [Double] {
        zip(0..<(headDim / 2), divisors(headDim: headDim, theta: theta)).map { i, d in
            1 / Foundation.pow(theta, Double(2 * i) / Double(headDim)) / d
        }
    }

    /// Rejects parameters that would give non-finite or reversed frequencies, naming the field.
    func validate(headDim: Int, source: String) throws {
        func fail(_ field: String, _ why: String) -> ModelFormatError {
            .invalidConfig(file: source, field: "ropeScaling.\(field)", reason: why)
        }
        switch self {
        case .none: return
        case .linear(let f):
            guard f > 0, f.isFinite else { throw fail("factor", "must be positive, is \(f)") }
        case .frequencyFactors(let f):
            guard f.count == headDim / 2 else { throw fail("rope_freqs", "has \(f.count) factors, the head needs \(headDim / 2)") }
            if let bad = f.first(where: { !($0 > 0 && $0.isFinite) }) { throw fail("rope_freqs", "factor \(bad) is not positive") }
        case let .llama3(factor, low, high, original):
            guard factor > 0, factor.isFinite else { throw fail("factor", "must be positive, is \(factor)") }
            guard low > 0, high > low else {
                throw fail("high_freq_factor", "must exceed low_freq_factor (\(low) > 0), is \(high)")
            }
            guard original > 0 else { throw fail("original_max_position_embeddings", "must be positive, is \(original)") }
        }
    }
}
