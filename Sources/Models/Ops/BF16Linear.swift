import Tensor

/// A frozen weight held only in bf16: the form of a projection or head in a model built for bf16
/// scoring (`Llama(_:precision:)`). `DenseLinear` in a bf16 scope keeps its fp32 weight beside a
/// cached bf16 copy, 1.5× the bytes; a scorer never needs the fp32 weight, so this layer drops it.
///
/// Every product is oneDNN's bf16 × bf16 → fp32 GEMM (x rounded per call, fp32 accumulation) in
/// any scope and at any size, single rows included: with no fp32 weight there is no sgemm to fall
/// back on. A product large enough for `BF16.applies` gives the bits `DenseLinear` gives in a
/// bf16 scope; a smaller one (decode rows, the narrow k/v projections of 1–2 rows) is the bf16
/// product where `DenseLinear` would use sgemm. So build it only where bf16 products run
/// (`ComputePrecision.effective(.bf16)` is bf16), and never for weights that are trained, merged
/// or exported, which need fp32.
public final class BF16Linear: ReentrantLinear {
    public let weight: BF16Matrix
    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }

    public init(_ weight: BF16Matrix) { self.weight = weight }

    /// y (rows, out) = x (rows, in) · Wᵀ in bf16 × bf16 → fp32.
    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        weight.storage.withUnsafeBufferPointer { w in
            BF16.gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: .float(x, ld: inFeatures),
                      b: .bf16(w.baseAddress!, ld: inFeatures), c: y, ldc: outFeatures)
        }
    }
}
