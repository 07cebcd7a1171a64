import Foundation
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

    /// `share` runs every item exactly once, on core 0 or 1, and all of them on core 0 where it
    /// may not split (inside a `splitting` scope).
    func testShareRunsEveryItemOnce() {
        for count in [0, 1, 2, 7, 100] {
            var runs = [Int](repeating: 0, count: count), cores = [Int](repeating: -1, count: count)
            runs.withUnsafeMutableBufferPointer { r in
                cores.withUnsafeMutableBufferPointer { c in
                    SecondCore.shared.share(count) { item, core in
                        r[item] += 1
                        c[item] = core
                    }
                }
            }
            XCTAssertEqual(runs, [Int](repeating: 1, count: count))
            XCTAssertTrue(cores.allSatisfy { $0 == 0 || $0 == 1 })
            var inside = [Int](repeating: -1, count: count)
            SecondCore.shared.splitting {
                inside.withUnsafeMutableBufferPointer { c in SecondCore.shared.share(count) { c[$0] = $1 } }
            }
            XCTAssertEqual(inside, [Int](repeating: 0, count: count))
        }
    }

    /// A long pass splits into two parts that cover its rows, the boundary on a multiple of
    /// `block`; a short one stays whole.
    func testHalvesOfAPassSplitOnABlockBoundary() {
        func parts(rows: Int, width: Int, block: Int) -> [Range<Int>] {
            var seen: [Range<Int>] = []
            let lock = NSLock()
            SecondCore.shared.halves(rows: rows, width: width, block: block) { r in lock.withLock { seen.append(r) } }
            return seen.sorted { $0.lowerBound < $1.lowerBound }
        }
        XCTAssertEqual(parts(rows: 1000, width: 1, block: 16), [0..<1000])
        let long = SecondCore.splitValues + 37
        let split = parts(rows: long, width: 1, block: 16)
        XCTAssertEqual(split.count, 2)
        XCTAssertEqual(split.first?.lowerBound, 0)
        XCTAssertEqual(split.last?.upperBound, long)
        XCTAssertEqual(split[0].upperBound, split[1].lowerBound)
        XCTAssertEqual(split[0].upperBound % 16, 0)
        XCTAssertEqual(parts(rows: 1025, width: 576, block: 1).map(\.count), [512, 513])
    }
}
