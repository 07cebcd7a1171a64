import Models
import Quantization
import Tensor
import Training

/// LoTA-QAF's ternary adapter on a frozen integer layer (lota-qaf.md §1.2–1.7, official `layer.py`).
///
/// Shapes: x, dx (rows, in); y, dy (rows, out); A, dA (r, in); B, dB (out, r); ΔW, G = dyᵀx (out, in);
/// codes q, q' (out, in); scales s, zeros z, offsets μ (out, groups).
/// Forward: ΔW = B·A (integers in [−r, r]); Ŵ = +1 where ΔW > ω and q < 2^b−1, −1 where ΔW < −ω and
/// q > 0, else 0 (the boundary masks zero a blocked step, so its ΔW flows into μ);
/// μ = groupmean(ΔW − ω·Ŵ)/ω (the code's form; `paperOffset`: without /ω); q' = q + Ŵ, z' = z − μ;
/// W = s·(q' − z'); y = x·Wᵀ. This is the code's s·(q − z + Ŵ + μ) written in the merged grid's own
/// terms, so export (`mergedGrid`) is the training forward itself, bit for bit.
/// Backward (identity STE through Ŵ, μ differentiable, s and z frozen): with S = s ⊙ G,
/// ∂ΔW = S + groupsum(S)/(g·ω) (paper form: /g), dA = Bᵀ·∂ΔW, dB = ∂ΔW·Aᵀ, dx = dy·W.
/// Saved: W, q', z' — rebuilt only when A or B changed since the last build.
public final class TernaryAdapter: TrainableLinear {
    public let base: QuantizedMatrix
    public let a: Parameter
    public let b: Parameter
    public let omega: Float
    public let paperOffset: Bool
    private var built = TernaryStatistics()
    private let initialA: [Float], initialB: [Float]
    private var merged: QuantizedMatrix
    private var snapshot = ParameterSnapshot()
    private let weight = FloatBuffer(), delta = FloatBuffer(), offsetMagnitudes = FloatBuffer()

    /// A from the reference `IntLinear`: Kaiming-normal (fan-in = in), ternarised at 0.75·mean|A|;
    /// B = 0, so the layer starts equal to its base.
    public init(base: QuantizedMatrix, rank: Int, omega: Float, paperOffset: Bool, name: String, random: inout SeededRandom) {
        self.base = base
        self.omega = omega
        self.paperOffset = paperOffset
        merged = base
        a = Parameter(name: name + ".lota_A", rows: rank, cols: base.cols)
        b = Parameter(name: name + ".lota_B", rows: base.rows, cols: rank)
        let std = (2 / Float(base.cols)).squareRoot()
        let draw = (0..<a.count).map { _ in std * random.nextGaussian() }
        let delta = 0.75 * draw.reduce(0) { $0 + abs($1) } / Float(draw.count)
        for (i, v) in draw.enumerated() { a.value.pointer[i] = v > delta ? 1 : v < -delta ? -1 : 0 }
        initialA = a.value.array(a.count)
        initialB = b.value.array(b.count)
    }

    public var inFeatures: Int { base.cols }
    public var outFeatures: Int { base.rows }
    public var parameters: [Parameter] { [a, b] }
    private var rank: Int { a.rows }

    /// What the build for the current A, B found. A build runs once after each optimizer step, so
    /// read after every step this is per-step data (`flips` = that step's t-SignSGD changes).
    public var statistics: TernaryStatistics {
        buildIfStale()
        return built
    }

    /// The adjusted integer layer: codes q + Ŵ (still in 0…2^b−1) and fractional zeros z − μ.
    public var mergedGrid: QuantizedMatrix {
        buildIfStale()
        return merged
    }

    public func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        buildIfStale()
        Linear.forward(x, weight: weight.pointer, rows: rows, in: inFeatures, out: outFeatures, into: y)
    }

    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, random: SeededRandom) {
        apply(x, rows: rows, into: y)
    }

    public func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int,
        into dx: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        let m = outFeatures, n = inFeatures, r = rank, gs = base.groupSize, gc = base.groupCount
        let g = delta.reserve(m * n)
        BLAS.gemm(transA: true, m: m, n: n, k: rows, a: dy, lda: m, b: x, ldb: n, c: g, ldc: n)
        let groupFactor = 1 / (Float(gs) * (paperOffset ? 1 : omega))
        // S = s ⊙ G and the group sums, rows split over the two cores (each group summed in order).
        base.scales.withUnsafeBufferPointer { s in
            SecondCore.shared.halves(m) { rows in
                for j in rows {
                    for grp in 0..<gc {
                        let scale = s[j * gc + grp], range = (j * n + grp * gs)..<(j * n + min(n, (grp + 1) * gs))
                        var sum: Float = 0
                        for i in range {
                            g[i] *= scale
                            sum += g[i]
                        }
                        let shared = sum * groupFactor
                        for i in range { g[i] += shared }
                    }
                }
            }
        }
        BLAS.gemm(transA: true, m: r, n: n, k: m, a: b.value.pointer, lda: r, b: g, ldb: n,
                  beta: 1, c: a.gradient.pointer, ldc: n)
        BLAS.gemm(transB: true, m: m, n: r, k: n, a: g, lda: n, b: a.value.pointer, ldb: n,
                  beta: 1, c: b.gradient.pointer, ldc: r)
        Linear.backwardInput(dy, weight: weight.pointer, rows: rows, in: n, out: m, into: dx, accumulate: accumulate)
    }

    private func buildIfStale() {
        if snapshot.isStale(parameters) { build() }
    }

    /// ΔW → Ŵ (masked), μ → q', z' → W, with the statistics of what fired. It runs after every
    /// optimizer step on every layer, so the rows are split over the two cores and q', z' are
    /// rewritten in place (a fresh copy of the codes per build faulted in new pages every time);
    /// each group is still summed in order on one core and the |μ| are totalled in group order
    /// afterwards, so the build is the same on one core or two.
    private func build() {
        let flips = snapshot.update(parameters) ?? 0
        let m = outFeatures, n = inFeatures, gc = base.groupCount
        let d = delta.reserve(m * n), magnitudes = offsetMagnitudes.reserve(m * gc)
        BLAS.gemm(m: m, n: n, k: rank, a: b.value.pointer, lda: rank, b: a.value.pointer, ldb: n, c: d, ldc: n)
        var rowStatistics = [TernaryStatistics](repeating: TernaryStatistics(), count: m)
        var codes = merged.codes, zeros = merged.zeros
        merged.codes = []
        merged.zeros = []
        base.codes.withUnsafeBufferPointer { q in
            base.zeros.withUnsafeBufferPointer { z in
                codes.withUnsafeMutableBufferPointer { q2 in
                    zeros.withUnsafeMutableBufferPointer { z2 in
                        rowStatistics.withUnsafeMutableBufferPointer { st in
                            SecondCore.shared.halves(m) { rows in
                                for j in rows {
                                    st[j] = adjust(row: j, delta: d, codes: q.baseAddress!, zeros: z.baseAddress!,
                                                   adjustedCodes: q2.baseAddress!, adjustedZeros: z2.baseAddress!,
                                                   magnitudes: magnitudes)
                                }
                            }
                        }
                    }
                }
            }
        }
        merged.codes = codes
        merged.zeros = zeros
        var st = rowStatistics.reduce(TernaryStatistics(weights: m * n, groups: m * gc, flips: flips), +)
        for k in 0..<(m * gc) { st.offsetAbsSum += Double(magnitudes[k]) }
        merged.dequantize(into: weight.reserve(m * n))
        countChanges(a, from: initialA, into: &st)
        countChanges(b, from: initialB, into: &st)
        st.maxAbsDelta /= omega
        built = st
    }

    /// Row `j` of the build: Ŵ from ΔW (`delta`) and the codes q, written as q + Ŵ into `q2`;
    /// per group μ from the residual, z − μ into `z2` and |μ| into `magnitudes`. Returns the row's
    /// counts (its |μ| are summed by the caller, in order).
    private func adjust(row j: Int, delta d: UnsafePointer<Float>, codes q: UnsafePointer<UInt8>, zeros z: UnsafePointer<Float>,
                        adjustedCodes q2: UnsafeMutablePointer<UInt8>, adjustedZeros z2: UnsafeMutablePointer<Float>,
                        magnitudes: UnsafeMutablePointer<Float>) -> TernaryStatistics {
        let n = inFeatures, gs = base.groupSize, gc = base.groupCount, w = omega
        let maxCode = UInt8((1 << base.bits) - 1)
        var st = TernaryStatistics()
        for grp in 0..<gc {
            let range = (j * n + grp * gs)..<(j * n + min(n, (grp + 1) * gs))
            var residual: Float = 0
            for i in range {
                let v = d[i]
                var step: Float = 0
                if v > w {
                    if q[i] < maxCode { step = 1; st.raised += 1 } else { st.blocked += 1 }
                } else if v < -w {
                    if q[i] > 0 { step = -1; st.lowered += 1 } else { st.blocked += 1 }
                }
                q2[i] = UInt8(Float(q[i]) + step)
                residual += v - w * step
                st.maxAbsDelta = max(st.maxAbsDelta, abs(v))
            }
            var mu = residual / Float(range.count)
            if !paperOffset { mu /= w }
            z2[j * gc + grp] = z[j * gc + grp] - mu
            magnitudes[j * gc + grp] = abs(mu)
        }
        return st
    }

    private func countChanges(_ p: Parameter, from initial: [Float], into st: inout TernaryStatistics) {
        st.adapterEntries += p.count
        for i in 0..<p.count {
            if p.value.pointer[i] > initial[i] { st.increased += 1 } else if p.value.pointer[i] < initial[i] { st.decreased += 1 }
        }
    }
}

/// How often LoTA-QAF's ternary adjustment fires (lota-qaf.md §1.10 instrumentation, Table 2 counts),
/// for one layer or, summed with `+`, for a model.
public struct TernaryStatistics: Equatable, Sendable {
    /// Integer weights covered.
    public var weights = 0
    /// (row, group) offsets covered.
    public var groups = 0
    /// Codes moved up / down one grid step (Ŵ = ±1).
    public var raised = 0
    public var lowered = 0
    /// Threshold crossings a boundary mask stopped (the code sits at 0 or 2^b − 1).
    public var blocked = 0
    /// Σ |μ| over the groups, in grid steps (in ΔW units with the paper's offset).
    public var offsetAbsSum = 0.0
    /// max |ΔW| / ω.
    public var maxAbsDelta: Float = 0
    /// Ternary entries of A and B, and how many went up / down since initialisation (paper Table 2).
    public var adapterEntries = 0
    public var increased = 0
    public var decreased = 0
    /// Adapter entries changed since the previous build (the last t-SignSGD step's flips).
    public var flips = 0

    public init(weights: Int = 0, groups: Int = 0, flips: Int = 0) {
        self.weights = weights
        self.groups = groups
        self.flips = flips
    }

    /// Fraction of integer weights whose code the adapter changed.
    public var adjustedFraction: Double { Double(raised + lowered) / Double(Swift.max(weights, 1)) }
    public var meanAbsOffset: Double { offsetAbsSum / Double(Swift.max(groups, 1)) }

    public static func + (l: Self, r: Self) -> Self {
        var s = l
        s.weights += r.weights; s.groups += r.groups; s.raised += r.raised; s.lowered += r.lowered
        s.blocked += r.blocked; s.offsetAbsSum += r.offsetAbsSum; s.maxAbsDelta = Swift.max(l.maxAbsDelta, r.maxAbsDelta)
        s.adapterEntries += r.adapterEntries; s.increased += r.increased; s.decreased += r.decreased; s.flips += r.flips
        return s
    }

    /// The numbers as named metrics for `ExportedModel.metrics`.
    public var metrics: [String: Double] {
        let entries = Double(Swift.max(adapterEntries, 1))
        return ["codesChangedFraction": adjustedFraction, "codesRaised": Double(raised), "codesLowered": Double(lowered),
                "boundaryBlocked": Double(blocked), "meanAbsOffset": meanAbsOffset, "maxAbsDeltaOverOmega": Double(maxAbsDelta),
                "adapterIncreasedFraction": Double(increased) / entries, "adapterDecreasedFraction": Double(decreased) / entries,
                "adapterUnchangedFraction": Double(adapterEntries - increased - decreased) / entries]
    }
}
