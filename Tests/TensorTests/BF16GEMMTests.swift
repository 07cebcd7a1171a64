import Foundation
import Tensor
import TestSupport
import XCTest

/// The bf16 GEMM (oneDNN) against a naive reference on the same bf16-rounded operands, the
/// rounding against its IEEE definition, the routing of `BLAS.gemm`, and the fp32 fallback.
final class BF16GEMMTests: XCTestCase {
    /// bf16(x) by the definition: of the two bf16 values around x (truncation and the next one up
    /// in magnitude) the nearer, the even one on a tie; NaN stays NaN; subnormals go to signed zero.
    static func referenceRound(_ x: Float) -> Float {
        if x.isNaN || x.isInfinite { return x }
        if x.isSubnormal || x == 0 { return x.sign == .minus ? -0.0 : 0 }
        let low = Float(bitPattern: x.bitPattern & 0xFFFF_0000)
        let high = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)
        // IEEE rounds as if the exponent were unbounded: past the largest bf16 the next value is 2¹²⁸ (→ inf).
        let highValue = high.isInfinite ? Double(high.sign == .minus ? -0x1p128 : 0x1p128) : Double(high)
        let dLow = abs(Double(x) - Double(low)), dHigh = abs(highValue - Double(x))
        if dLow != dHigh { return dLow < dHigh ? low : high }
        return (low.bitPattern >> 16) & 1 == 0 ? low : high
    }

    /// alpha · op(A)·op(B) + beta · C with bf16-rounded A and B: every product exact in fp32 (two
    /// 8-bit significands), summed in Double. Also returns Σ|a||b| per entry, for the error bound.
    static func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                          b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> (c: [Double], magnitude: [Double]) {
        var out = [Double](repeating: 0, count: m * ldc), mag = out
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, sa = 0.0
                for p in 0..<k {
                    let x = referenceRound(transA ? a[p * lda + i] : a[i * lda + p])
                    let y = referenceRound(transB ? b[j * ldb + p] : b[p * ldb + j])
                    s += Double(x * y)
                    sa += abs(Double(x * y))
                }
                out[i * ldc + j] = Double(alpha) * s + Double(beta) * Double(c[i * ldc + j])
                mag[i * ldc + j] = abs(Double(alpha)) * sa + abs(Double(beta) * Double(c[i * ldc + j]))
            }
        }
        return (out, mag)
    }

    func testRoundingMatchesTheIEEEDefinition() {
        var rng = SeededRandom(seed: 11)
        var xs: [Float] = (0..<1000).map { _ in rng.nextGaussian() * 100 }
        // Ties both ways, the largest finite values (overflow to inf), specials, subnormals.
        xs += [Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0xBF80_8000),
               .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(bitPattern: 0x7F7F_7FFF),
               .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2,
               .leastNormalMagnitude, 1, -1, 3.0e-39]
        xs += [.nan]  // 1017 values: not a multiple of 32, so the vector tail runs too.
        var out = [UInt16](repeating: 0, count: xs.count)
        BF16.round(xs, ld: xs.count, rows: 1, cols: xs.count, into: &out, ldOut: xs.count)
        for (x, o) in zip(xs, out) {
            let got = BF16.float(o), want = Self.referenceRound(x)
            if x.isNaN { XCTAssertTrue(got.isNaN); continue }
            XCTAssertEqual(got.bitPattern, want.bitPattern, "bf16(\(x)) = \(got), want \(want)")
        }
        // Expanding back is exact: each value equals its scalar conversion, bit for bit.
        var back = [Float](repeating: .nan, count: out.count)
        BF16.expand(out, count: out.count, into: &back)
        for (o, b) in zip(out, back) { XCTAssertEqual(b.bitPattern, BF16.float(o).bitPattern) }
        // Rounding in place keeps the same bits and leaves their values; long enough to split.
        var long = (0..<(1 << 17)).map { xs[$0 % xs.count] * Float(1 + $0 % 3) }
        let want = long.map { Self.referenceRound($0) }
        var kept = [UInt16](repeating: 0, count: long.count)
        BF16.roundInPlace(&long, count: long.count, keeping: &kept)
        for i in long.indices where !want[i].isNaN {
            XCTAssertEqual(long[i].bitPattern, want[i].bitPattern)
            XCTAssertEqual(BF16.float(kept[i]).bitPattern, want[i].bitPattern)
        }
    }

    /// Every entry within (k + 2)·2⁻²⁴·(|alpha|·Σ|a||b| + |beta·c|) of the Double reference: the fp32
    /// accumulation's rounding error in any summation order (γ_k ≤ k·u), plus one rounding each for
    /// alpha and beta. Entries outside the n columns (ldc > n) must be untouched.
    func testMatchesReferenceUpToAccumulationOrder() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 5)
        let cases: [(m: Int, n: Int, k: Int, pad: Int, alpha: Float, beta: Float)] = [
            (64, 64, 64, 0, 1, 0), (37, 130, 300, 3, 0.5, 1), (130, 70, 577, 0, -1.25, 0.3),
            (8, 576, 1536, 5, 1, 1), (256, 17, 64, 1, 2, 0),
        ]
        for t in cases {
            for transA in [false, true] {
                for transB in [false, true] {
                    let lda = (transA ? t.m : t.k) + t.pad, ldb = (transB ? t.k : t.n) + t.pad, ldc = t.n + t.pad
                    let a = (0..<((transA ? t.k : t.m) * lda)).map { _ in rng.nextGaussian() }
                    let b = (0..<((transB ? t.n : t.k) * ldb)).map { _ in rng.nextGaussian() }
                    let c0 = (0..<(t.m * ldc)).map { _ in rng.nextGaussian() }
                    var c = c0
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            BF16.gemm(transA: transA, transB: transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                      a: .float(a.baseAddress!, ld: lda), b: .float(b.baseAddress!, ld: ldb),
                                      beta: t.beta, c: &c, ldc: ldc)
                        }
                    }
                    let ref = Self.reference(transA: transA, transB: transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                             a: a, lda: lda, b: b, ldb: ldb, beta: t.beta, c: c0, ldc: ldc)
                    var worst = 0.0
                    for i in 0..<t.m {
                        for j in 0..<ldc {
                            let at = i * ldc + j
                            if j >= t.n { XCTAssertEqual(c[at].bitPattern, c0[at].bitPattern); continue }
                            let bound = Double(t.k + 2) * 0x1p-24 * ref.magnitude[at]
                            worst = max(worst, abs(Double(c[at]) - ref.c[at]) / bound)
                        }
                    }
                    XCTAssertLessThanOrEqual(worst, 1, "\(t) transA \(transA) transB \(transB): error / bound")
                }
            }
        }
    }

    /// Split over the two cores (by rows when m ≥ n, by columns when n > m) the product has the
    /// bits of the whole product on one core, for every transposition and with padded strides.
    func testSplitProductEqualsTheWholeProduct() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 11)
        for (m, n, k) in [(130, 70, 577), (37, 300, 130), (16, 576, 1024)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                    let a = (0..<((transA ? k : m) * lda)).map { _ in rng.nextGaussian() }
                    let b = (0..<((transB ? n : k) * ldb)).map { _ in rng.nextGaussian() }
                    let c0 = (0..<(m * ldc)).map { _ in rng.nextGaussian() }
                    func product() -> [Float] {
                        var c = c0
                        a.withUnsafeBufferPointer { a in
                            b.withUnsafeBufferPointer { b in
                                BF16.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                                          a: .float(a.baseAddress!, ld: lda), b: .float(b.baseAddress!, ld: ldb),
                                          beta: 1, c: &c, ldc: ldc)
                            }
                        }
                        return c
                    }
                    let split = product(), whole = SecondCore.shared.splitting { product() }
                    XCTAssertEqual(split.map(\.bitPattern), whole.map(\.bitPattern), "\(m)×\(n)×\(k) transA \(transA) transB \(transB)")
                }
            }
        }
    }

    /// A pre-rounded operand gives the same bits as rounding per call.
    func testPreRoundedOperandMatches() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 9)
        let m = 96, n = 80, k = 200
        let w = Matrix(rows: n, cols: k, storage: (0..<(n * k)).map { _ in rng.nextGaussian() })
        let x = (0..<(m * k)).map { _ in rng.nextGaussian() }
        var perCall = [Float](repeating: 0, count: m * n), cached = perCall
        let rounded = BF16Matrix(w)
        x.withUnsafeBufferPointer { x in
            w.storage.withUnsafeBufferPointer { wp in
                BF16.gemm(transB: true, m: m, n: n, k: k, a: .float(x.baseAddress!, ld: k), b: .float(wp.baseAddress!, ld: k),
                          c: &perCall, ldc: n)
            }
            rounded.storage.withUnsafeBufferPointer { wb in
                BF16.gemm(transB: true, m: m, n: n, k: k, a: .float(x.baseAddress!, ld: k), b: .bf16(wb.baseAddress!, ld: k),
                          c: &cached, ldc: n)
            }
        }
        XCTAssertEqual(perCall.map(\.bitPattern), cached.map(\.bitPattern))
    }

    /// In a bf16 scope a large `BLAS.gemm` is the bf16 product (same bits as `BF16.gemm`), a small
    /// one and any outside the scope stay sgemm.
    func testBLASRoutesLargeProductsInBF16Scope() throws {
        try requireBF16()
        var rng = SeededRandom(seed: 2)
        let m = 128, n = 128, k = 128
        XCTAssertGreaterThanOrEqual(m * n * k, BF16.minimumProduct)
        let a = (0..<(m * k)).map { _ in rng.nextGaussian() }, b = (0..<(k * n)).map { _ in rng.nextGaussian() }
        var direct = [Float](repeating: 0, count: m * n), routed = direct, fp32 = direct
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                BF16.gemm(m: m, n: n, k: k, a: .float(ap.baseAddress!, ld: k), b: .float(bp.baseAddress!, ld: n), c: &direct, ldc: n)
            }
        }
        ComputePrecision.with(.bf16) {
            XCTAssertEqual(ComputePrecision.current, .bf16)
            BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &routed, ldc: n)
        }
        BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &fp32, ldc: n)
        XCTAssertEqual(routed.map(\.bitPattern), direct.map(\.bitPattern))
        XCTAssertNotEqual(fp32.map(\.bitPattern), direct.map(\.bitPattern))
        XCTAssertEqual(ComputePrecision.current, .fp32)
    }

    /// Forced fallback (`QAFT_FORCE_FP32=1`), on every CPU: bf16 requested gives fp32, says why, and
    /// products inside the scope are sgemm bit for bit.
    func testForcedFallbackRunsFP32AndSaysSo() {
        setenv("QAFT_FORCE_FP32", "1", 1)
        defer { unsetenv("QAFT_FORCE_FP32") }
        let (precision, reason) = ComputePrecision.effective(.bf16)
        XCTAssertEqual(precision, .fp32)
        XCTAssertTrue(reason?.contains("QAFT_FORCE_FP32") == true, reason ?? "no reason")
        XCTAssertNotNil(ComputePrecision.bf16Unavailable)
        XCTAssertNil(ComputePrecision.effective(.fp32).reason)
        var rng = SeededRandom(seed: 4)
        let m = 128, n = 96, k = 160
        let a = (0..<(m * k)).map { _ in rng.nextGaussian() }, b = (0..<(k * n)).map { _ in rng.nextGaussian() }
        var inScope = [Float](repeating: 0, count: m * n), plain = inScope
        ComputePrecision.with(.bf16) {
            XCTAssertEqual(ComputePrecision.current, .fp32)
            BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &inScope, ldc: n)
        }
        BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &plain, ldc: n)
        XCTAssertEqual(inScope.map(\.bitPattern), plain.map(\.bitPattern))
    }
}
