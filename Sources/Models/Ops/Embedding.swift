import Tensor

/// Token embedding: row t of the table for each token t.
///
/// Shapes: table, dTable (vocab, dim); tokens (rows); x, dx (rows, dim).
/// Forward saves for backward: the token ids.
public enum Embedding {
    /// x[r] = table[tokens[r]]. Token ids must already be validated against the vocabulary.
    public static func forward(
        _ tokens: [Int], table: UnsafePointer<Float>, dim: Int, into x: UnsafeMutablePointer<Float>
    ) {
        for (r, t) in tokens.enumerated() { (x + r * dim).update(from: table + t * dim, count: dim) }
    }

    /// dTable[tokens[r]] += dx[r]: a token appearing twice receives both rows' gradients.
    public static func backward(
        _ dx: UnsafePointer<Float>, tokens: [Int], dim: Int, into dTable: UnsafeMutablePointer<Float>
    ) {
        for (r, t) in tokens.enumerated() { SIMDMath.add(dx + r * dim, into: dTable + t * dim, dim) }
    }
}
