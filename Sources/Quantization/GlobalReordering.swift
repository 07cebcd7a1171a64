import Models
import Tensor

/// QEFT's Offline Global Reordering (qeft.md §1.7): permutations folded into the weights so the
/// reordered model computes exactly the same function.
///
/// * `residual` permutes the hidden (residual-stream) dimension of the whole network: embedding
///   columns, every RMSNorm weight, the input columns of q/k/v/gate/up, the output rows (and
///   biases) of o/down, the head's columns. RMSNorm commutes with a permutation (rms(Px) = rms(x)), so every block
///   sees P·x and the logits do not change. A tied head *is* the embedding: it is permuted once.
/// * `intermediate[l]` permutes block l's MLP dimension: gate/up output rows and down's input
///   columns, gate/up biases (SwiGLU is element-wise, so it commutes).
///
/// An order lists, for each new position i, the old index placed there.
public struct GlobalReordering: Equatable, Sendable {
    public let residual: [Int]
    /// One entry per block; nil leaves that block's MLP dimension alone.
    public let intermediate: [[Int]?]

    public init(residual: [Int], intermediate: [[Int]?]) throws {
        try Self.validate(residual, what: "residual")
        for (l, p) in intermediate.enumerated() { if let p { try Self.validate(p, what: "intermediate[\(l)]") } }
        self.residual = residual
        self.intermediate = intermediate
    }

    /// QEFT's order: the columns not in `indices` ascending, then `indices` ascending, so the weak
    /// columns become the last k inputs.
    public static func movingToEnd(_ indices: [Int], dimension: Int) throws -> [Int] {
        let sorted = indices.sorted()
        for (i, c) in sorted.enumerated() where c < 0 || c >= dimension || (i > 0 && c == sorted[i - 1]) {
            throw QuantizationError.invalidOption(option: "weakIndices", value: "\(c)",
                                                  reason: "must be distinct indices in 0..<\(dimension)")
        }
        var isMoved = [Bool](repeating: false, count: dimension)
        for c in sorted { isMoved[c] = true }
        return (0..<dimension).filter { !isMoved[$0] } + sorted
    }

    /// `weights` with the permutations folded in.
    public func apply(to weights: LlamaWeights) throws -> LlamaWeights {
        let c = weights.config
        guard residual.count == c.dim else {
            throw QuantizationError.shapeMismatch(what: "residual order", expected: [c.dim], found: [residual.count])
        }
        guard intermediate.count == c.layerCount else {
            throw QuantizationError.shapeMismatch(what: "intermediate orders", expected: [c.layerCount], found: [intermediate.count])
        }
        var w = weights
        w.tokenEmbedding = Self.permuteColumns(w.tokenEmbedding, residual)
        w.output = w.output.map { Self.permuteColumns($0, residual) }
        w.finalNorm = residual.map { weights.finalNorm[$0] }
        for (l, layer) in weights.layers.enumerated() {
            if let p = intermediate[l], p.count != c.hiddenDim {
                throw QuantizationError.shapeMismatch(what: "intermediate order of block \(l)", expected: [c.hiddenDim], found: [p.count])
            }
            var n = layer
            n.attnNorm = residual.map { layer.attnNorm[$0] }
            n.ffnNorm = residual.map { layer.ffnNorm[$0] }
            for site in Projection.allCases {
                var m = layer[site], bias = layer.biases[site]
                if site.readsResidual { m = Self.permuteColumns(m, residual) }
                if site.writesResidual {
                    m = Self.permuteRows(m, residual)
                    bias = bias.map { b in residual.map { b[$0] } }
                }
                if let p = intermediate[l] {
                    if site == .gate || site == .up {
                        m = Self.permuteRows(m, p)
                        bias = bias.map { b in p.map { b[$0] } }
                    }
                    if site == .down { m = Self.permuteColumns(m, p) }
                }
                n[site] = m
                n.biases[site] = bias
            }
            w.layers[l] = n
        }
        return w
    }

    /// The inverse order: where each old index went (undoing a fold applies it with this order).
    public static func inverse(_ order: [Int]) -> [Int] {
        var inv = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() { inv[o] = i }
        return inv
    }

    static func permuteColumns(_ m: Matrix, _ order: [Int]) -> Matrix {
        var out = Matrix(zeros: m.rows, m.cols)
        m.storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for r in 0..<m.rows {
                    let s = src.baseAddress! + r * m.cols, d = dst.baseAddress! + r * m.cols
                    for (i, o) in order.enumerated() { d[i] = s[o] }
                }
            }
        }
        return out
    }

    static func permuteRows(_ m: Matrix, _ order: [Int]) -> Matrix {
        var out = Matrix(zeros: m.rows, m.cols)
        m.storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                for (i, o) in order.enumerated() {
                    (dst.baseAddress! + i * m.cols).update(from: src.baseAddress! + o * m.cols, count: m.cols)
                }
            }
        }
        return out
    }

    private static func validate(_ order: [Int], what: String) throws {
        var seen = [Bool](repeating: false, count: order.count)
        for (i, o) in order.enumerated() {
            guard o >= 0, o < order.count, !seen[o] else {
                throw QuantizationError.invalidOption(option: what, value: "[\(i)] = \(o)",
                                                      reason: "not a permutation of 0..<\(order.count)")
            }
            seen[o] = true
        }
    }
}
