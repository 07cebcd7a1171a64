/// The naive form of the int8-activation GEMV (`PackedWeights.gemv(_:_:activations:)`), one code
/// at a time in Int and Double arithmetic, which the fast kernel is tested against.
public enum Int8ActivationReference {
    /// x quantized per block of `blockSize` columns, with the kernel's float operations:
    /// amax = max |x_j|, q_j = round-half-even(x_j · (127 / amax)), scale = amax / 127, sum = Σ q_j.
    public static func quantize(_ x: [Float], blockSize: Int) -> (codes: [Int8], scales: [Float], sums: [Int]) {
        var codes = [Int8](repeating: 0, count: x.count), scales: [Float] = [], sums: [Int] = []
        for start in stride(from: 0, to: x.count, by: blockSize) {
            let block = start..<min(start + blockSize, x.count)
            let amax = x[block].reduce(Float(0)) { max($0, abs($1)) }
            let inverse: Float = amax > 0 ? 127 / amax : 0
            for j in block { codes[j] = Int8((x[j] * inverse).rounded(.toNearestOrEven)) }
            scales.append(amax / 127)
            sums.append(block.reduce(0) { $0 + Int(codes[$1]) })
        }
        return (codes, scales, sums)
    }

    /// The exact integer part per (row, group): Σ_{j∈g} c_rj · q_j (rows × groupCount, row-major).
    public static func integerDots(_ w: PackedWeights, _ codes: [Int8]) -> [Int] {
        let q = w.unpacked()
        var dots = [Int](repeating: 0, count: w.rows * w.groupCount)
        for r in 0..<w.rows {
            for c in 0..<w.cols { dots[r * w.groupCount + c / w.groupSize] += Int(q.codes[r * w.cols + c]) * Int(codes[c]) }
        }
        return dots
    }

    /// y_r = Σ_g s_rg · d_g · (Σ_{j∈g} c_rj q_j − z_rg · Σ_{j∈g} q_j), the group terms in Double.
    public static func gemv(_ w: PackedWeights, _ x: [Float]) -> [Float] {
        let a = quantize(x, blockSize: w.groupSize), dots = integerDots(w, a.codes), gc = w.groupCount
        return (0..<w.rows).map { r in
            Float((0..<gc).reduce(0.0) { acc, g in
                let s = Double(w.scales[r * gc + g]), z = Double(w.zeros[r * gc + g])
                return acc + s * Double(a.scales[g]) * (Double(dots[r * gc + g]) - z * Double(a.sums[g]))
            })
        }
    }
}
