import Foundation
import Tensor
import TestSupport

/// Seeded random inputs and fixture loading shared by the quantization tests.
enum TestData {
    static func gaussian(_ rows: Int, _ cols: Int, seed: UInt64, scale: Float = 1) -> Matrix {
        var rng = SeededRandom(seed: seed)
        return Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in rng.nextGaussian() * scale })
    }

    static func randomCodes(_ count: Int, bits: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(rng.next() % UInt64(1 << bits)) }
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.url("Tests/Fixtures/quantization/\(name).json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// ‖(W − Ŵ) Xᵀ‖²: the layer-output error GPTQ minimises (X is tokens × in).
    static func outputError(_ w: Matrix, _ wq: Matrix, _ x: Matrix) -> Double {
        var d = w
        for i in 0..<d.count { d.storage[i] -= wq.storage[i] }
        var y = [Float](repeating: 0, count: x.rows * w.rows)
        BLAS.gemm(transB: true, m: x.rows, n: w.rows, k: w.cols, a: x.storage, lda: x.cols, b: d.storage, ldb: d.cols,
                  c: &y, ldc: w.rows)
        return y.reduce(0) { $0 + Double($1) * Double($1) }
    }
}
