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

/// A linear operator with a decode mode: its single-row products can run at either activation
/// precision, and a batched decode step (one row per sequence) can run row by row on that
/// single-row kernel.
public protocol DecodeActivationSelectable: AnyObject {
    var decodeActivations: ActivationPrecision { get set }
    /// Products of at most this many rows run as that many single-row products (a decode step of
    /// that many sequences). 1, the default, keeps every product over several rows on the
    /// dequantize-then-sgemm path, equal bit for bit to the dense form's, which scoring relies on.
    var decodeRows: Int { get set }
}

extension DecodeActivationSelectable where Self: LinearOperator {
    /// `rows` single-row products, one per row of x (rows × in) into y (rows × out).
    public func eachRow(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                        _ product: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        for r in 0..<rows { product(x + r * inFeatures, y + r * outFeatures) }
    }
}

extension Llama {
    /// Runs `body` with every projection and the head that support it (`DecodeActivationSelectable`)
    /// doing single-row products at `precision`, and products of up to `rows` rows row by row
    /// (a batched decode), and restores their settings afterwards. Layers that do not support it
    /// (dense; an adapter over a dense base) keep float activations and their GEMM.
    public func withDecodeActivations<T>(_ precision: ActivationPrecision, rows: Int = 1, _ body: () throws -> T) rethrows -> T {
        let layers = (blocks.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] } + [head])
            .compactMap { $0 as? DecodeActivationSelectable }
        let previous = layers.map { ($0.decodeActivations, $0.decodeRows) }
        for layer in layers { (layer.decodeActivations, layer.decodeRows) = (precision, rows) }
        defer { for (layer, p) in zip(layers, previous) { (layer.decodeActivations, layer.decodeRows) = p } }
        return try body()
    }
}
