import Foundation
import Tensor
import XCTest

/// The vectorised kernels against plain scalar references.
final class SIMDMathTests: XCTestCase {
    func testExpMatchesFoundationAcrossTheRange() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let v = SIMDMath.exp(Float16x((0..<16).map { x + Float($0) * 0.0037 }))
            for i in 0..<16 {
                let ref = Foundation.exp(Double(x + Float(i) * 0.0037))
                worst = max(worst, Float(abs(Double(v[i]) - ref) / ref))
            }
            x += 0.173
        }
        XCTAssertLessThan(worst, 3e-7, "worst relative error \(worst)")
        XCTAssertEqual(SIMDMath.exp(-100), 0)
        XCTAssertEqual(SIMDMath.exp(100), .infinity)
        XCTAssertEqual(SIMDMath.exp(0), 1)
    }

    func testReductionsMatchScalarLoops() {
        var rng = SeededRandom(seed: 7)
        for n in [1, 5, 16, 17, 31, 64, 577] {
            let a = (0..<n).map { _ in rng.nextGaussian() * 3 }, b = (0..<n).map { _ in rng.nextGaussian() }
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let p = pa.baseAddress!, q = pb.baseAddress!
                    XCTAssertEqual(SIMDMath.sum(p, n), a.reduce(0, +), accuracy: 1e-4 * Float(n))
                    XCTAssertEqual(SIMDMath.dot(p, q, n), zip(a, b).map(*).reduce(0, +), accuracy: 1e-4 * Float(n))
                    XCTAssertEqual(SIMDMath.max(p, n), a.max()!)
                    XCTAssertEqual(SIMDMath.argmax(p, n), a.firstIndex(of: a.max()!)!)
                    let m = Double(a.max()!)
                    let lse = m + Foundation.log(a.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
                    XCTAssertEqual(Double(SIMDMath.logSumExp(p, n)), lse, accuracy: 1e-5 * max(1, abs(lse)))
                }
            }
            var e = a
            let total = e.withUnsafeMutableBufferPointer { SIMDMath.expShiftedInPlace($0.baseAddress!, n, shift: 1.5) }
            for i in 0..<n { XCTAssertEqual(e[i], Float(Foundation.exp(Double(a[i]) - 1.5)), accuracy: 1e-6 * max(1, e[i])) }
            XCTAssertEqual(total, e.reduce(0, +), accuracy: 1e-5 * max(1, total))
        }
    }

    func testClampEqualsTheStandardLibrarysClampBitForBit() {
        var rng = SeededRandom(seed: 11)
        let special: [Float] = [0, -0.0, -8, 7, -8.5, 7.5, .infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude]
        for round in 0..<64 {
            let v = Float16x((0..<16).map { i in round == 0 && i < special.count ? special[i] : rng.nextGaussian() * 10 })
            let lo = Float16x(repeating: -8), hi = Float16x(repeating: 7)
            let fast = SIMDMath.clamp(v, lo, hi), reference = v.clamped(lowerBound: lo, upperBound: hi)
            for i in 0..<16 { XCTAssertEqual(fast[i].bitPattern, reference[i].bitPattern, "lane \(i) of \(v[i])") }
        }
    }

    func testRandomIsReproducibleAndSplitsIndependently() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        XCTAssertEqual((0..<100).map { _ in a.next() }, (0..<100).map { _ in b.next() })
        var c = a.split(1), d = a.split(2)
        XCTAssertNotEqual(c.next(), d.next())
        let data = try! JSONEncoder().encode(a)
        var restored = try! JSONDecoder().decode(SeededRandom.self, from: data)
        XCTAssertEqual(restored.next(), a.next())
        let u = (0..<10_000).map { _ in a.nextUnitFloat() }
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(u.reduce(0, +) / 10_000, 0.5, accuracy: 0.02)
    }
}
