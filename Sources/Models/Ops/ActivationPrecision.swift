/// The precision of the activation vector x inside a single-row (batch-1 decode) product on packed
/// low-bit weights. Products over several rows (prefill, scoring, training) always use float x.
public enum ActivationPrecision: String, Codable, Sendable, Equatable, CaseIterable {
    /// x stays float32 (the dequantize-on-the-fly FMA kernels): the result is the dequantized
    /// weight times x up to summation order, which the merged-vs-fake-quantized exactness tests and
    /// evaluation scores rely on. The default of every packed layer.
    case float32
    /// x is quantized to int8 per weight group (scale d = max|x|/127) and meets the codes in integer
    /// SIMD, as llama.cpp's Q8 activations do: several times faster on AVX2, at an error of at most
    /// Σ_j |w_j| · d/2 per output. `Generator` decodes this way by default.
    case int8
}

/// A linear operator whose single-row products can run at either activation precision.
public protocol DecodeActivationSelectable: AnyObject {
    var decodeActivations: ActivationPrecision { get set }
}

extension Llama {
    /// Runs `body` with every projection and the head that support it (`DecodeActivationSelectable`)
    /// doing single-row products at `precision`, and restores their settings afterwards. Layers
    /// that do not support it (dense, adapter-wrapped) keep float activations.
    public func withDecodeActivations<T>(_ precision: ActivationPrecision, _ body: () throws -> T) rethrows -> T {
        let layers = (blocks.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] } + [head])
            .compactMap { $0 as? DecodeActivationSelectable }
        let previous = layers.map(\.decodeActivations)
        for layer in layers { layer.decodeActivations = precision }
        defer { for (layer, p) in zip(layers, previous) { layer.decodeActivations = p } }
        return try body()
    }
}
