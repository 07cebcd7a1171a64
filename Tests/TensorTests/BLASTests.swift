import Tensor
import XCTest

/// The cblas wrappers' argument conventions against a naive triple loop.
final class BLASTests: XCTestCase {
    func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]) }
                c[i * n + j] = s
            }
        }
        return c
    }

    func testGemmAndGemvMatchNaive() {
        var rng = SeededRandom(seed: 3)
        let m = 7, n = 13, k = 19
        let a = (0..<(m * k)).map { _ in rng.nextGaussian() }, b = (0..<(k * n)).map { _ in rng.nextGaussian() }
        for transA in [false, true] {
            for transB in [false, true] {
                var c = [Float](repeating: 0, count: m * n)
                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: transA ? m : k,
                          b: b, ldb: transB ? k : n, c: &c, ldc: n)
                let ref = naive(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
                for i in 0..<(m * n) { XCTAssertEqual(c[i], ref[i], accuracy: 1e-4) }
            }
        }
        let x = Array(b.prefix(k))
        var y = [Float](repeating: 0, count: m)
        BLAS.gemv(m: m, n: k, a: a, lda: k, x: x, y: &y)
        let ref = naive(a, x, m: m, n: 1, k: k, transA: false, transB: false)
        for i in 0..<m { XCTAssertEqual(y[i], ref[i], accuracy: 1e-4) }
    }

    /// Cutting OpenBLAS's idle spin stops its workers; the next threaded product starts them again
    /// and gives the same numbers, and the spin read back is 2^4 cycles unless the user set one.
    func testIdleThreadsSleepSoonAndThreadedProductsStillAgree() throws {
        var rng = SeededRandom(seed: 5)
        let n = 192
        let a = (0..<(n * n)).map { _ in rng.nextGaussian() }, b = (0..<(n * n)).map { _ in rng.nextGaussian() }
        func product() -> [Float] {
            var c = [Float](repeating: 0, count: n * n)
            BLAS.gemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
            return c
        }
        let userSpin = getenv("OPENBLAS_THREAD_TIMEOUT").map { String(cString: $0) }
        let before = product()
        BLAS.sleepIdleThreadsSoon()
        XCTAssertEqual(BLAS.threadSpinLog2, userSpin.flatMap { Int($0) } ?? 4)
        XCTAssertEqual(product(), before)
        let ref = naive(a, b, m: n, n: n, k: n, transA: false, transB: false)
        for i in 0..<(n * n) { XCTAssertEqual(before[i], ref[i], accuracy: 1e-3) }
    }
}
