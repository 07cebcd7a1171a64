import Tensor
import XCTest

/// The decode-time split: both parts run, on two threads only inside the scope, and OpenBLAS's
/// thread count is held at one inside and restored after.
final class SecondCoreTests: XCTestCase {
    func testRunsBothPartsAndRestoresBLASThreads() {
        let before = BLAS.threads
        var parts = [0, 0]
        SecondCore.shared.run { parts[$0] += 1 }
        XCTAssertEqual(parts, [1, 1])
        XCTAssertFalse(SecondCore.shared.isSplitting)
        SecondCore.shared.splitting {
            XCTAssertEqual(BLAS.threads, 1)
            SecondCore.shared.splitting { XCTAssertTrue(SecondCore.shared.isSplitting) }
            XCTAssertTrue(SecondCore.shared.isSplitting, "an inner scope must not end the outer one")
            for _ in 0..<10_000 { parts.withUnsafeMutableBufferPointer { p in SecondCore.shared.run { p[$0] += 1 } } }
        }
        XCTAssertEqual(parts, [10_001, 10_001])
        XCTAssertFalse(SecondCore.shared.isSplitting)
        XCTAssertEqual(BLAS.threads, before)
    }

    /// A split sgemv (two row halves, one per core) equals the whole product, odd row count included.
    func testSplitGEMVMatchesWholeProduct() {
        var rng = SeededRandom(seed: 5)
        let m = 1001, n = 576
        XCTAssertGreaterThanOrEqual(m * n, BLAS.splitGEMVWeights)
        let a = (0..<(m * n)).map { _ in rng.nextGaussian() }, x = (0..<n).map { _ in rng.nextGaussian() }
        var whole = [Float](repeating: 0, count: m), split = whole
        BLAS.gemv(m: m, n: n, a: a, lda: n, x: x, y: &whole)
        SecondCore.shared.splitting { BLAS.gemv(m: m, n: n, a: a, lda: n, x: x, y: &split) }
        for i in 0..<m { XCTAssertEqual(split[i], whole[i], accuracy: 1e-4 * max(1, abs(whole[i]))) }
    }
}
