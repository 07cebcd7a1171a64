import Tensor

/// Straightforward versions of the weak-column selection, for tests of `WeakColumns`.
public enum WeakColumnsReference {
    /// OWQ score element by element: the trial quantizer's per-row grid applied to each weight, the
    /// squared errors summed down each column, times H_jj.
    public static func owqScores(weight: Matrix, hessianDiagonal: [Double], trial: UniformQuantizer) -> [Double] {
        var e = [Double](repeating: 0, count: weight.cols)
        for r in 0..<weight.rows {
            let row = weight.row(r)
            let p = row.withUnsafeBufferPointer { trial.parameters($0) }
            for c in 0..<weight.cols {
                let d = Double(row[c] - trial.fakeQuantize(row[c], p))
                e[c] += d * d
            }
        }
        return (0..<weight.cols).map { hessianDiagonal[$0] * e[$0] }
    }

    /// Full sort by (score descending, index ascending), first k, ascending.
    public static func top(_ k: Int, of scores: [Double]) -> [Int] {
        Array(scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }.prefix(k)).sorted()
    }
}
