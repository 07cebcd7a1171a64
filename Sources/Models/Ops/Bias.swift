import Tensor

/// A projection's bias: y (rows, n) += b (n) on every row.
///
/// Backward: ∂L/∂x = ∂L/∂y unchanged, so a frozen bias needs no backward code of its own; qaft never
/// trains biases (the papers' methods adapt weights only).
public enum Bias {
    public static func add(_ b: [Float], to y: UnsafeMutablePointer<Float>, rows: Int) {
        let n = b.count
        b.withUnsafeBufferPointer { bp in
            for r in 0..<rows { SIMDMath.add(bp.baseAddress!, into: y + r * n, n) }
        }
    }
}
