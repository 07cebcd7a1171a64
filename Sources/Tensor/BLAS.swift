import CBLAS
import Foundation

/// Thin, row-major wrappers over OpenBLAS. All dense math in qaft goes through here so thread
/// policy and argument conventions live in one place.
public enum BLAS {
    /// Threads OpenBLAS may use. qaft's own code stays single-threaded around BLAS calls, so the
    /// product of the two never exceeds the core count.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's idle worker threads spin for 2^28 cycles (≈ 0.1 s) after each threaded call before
    /// they sleep. Between bf16 products (oneDNN on `SecondCore`'s two threads) any threaded sgemm
    /// wakes them and their spin then holds the second core: measured on the idle 2-core machine,
    /// bf16 products ran at half speed (q/o 196 vs 352 GFLOP/s with the spin cut, sgemm unchanged).
    /// Called once at process start, before any threaded call: the workers sleep after 2^4 cycles
    /// (OpenBLAS's minimum) unless the user set `OPENBLAS_THREAD_TIMEOUT` (then theirs stands).
    public static func sleepIdleThreadsSoon() {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
        openblas_read_env()
        _ = blas_thread_shutdown_()
    }

    /// log2 of the cycles OpenBLAS's idle workers spin (as last read from the environment).
    public static var threadSpinLog2: Int { Int(openblas_thread_timeout()) }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major, with leading dimensions.
    /// In a bf16 scope (`ComputePrecision`) a product large enough to pay runs as `BF16.gemm`
    /// (operands rounded to bf16, fp32 accumulation); everything else is OpenBLAS sgemm.
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if BF16.applies(m: m, n: n, k: k) {
            BF16.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: .float(a, ld: lda),
                      b: .float(b, ld: ldb), beta: beta, c: c, ldc: ldc)
            return
        }
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    }

    /// `gemm` in fp32 whatever the current precision: for a product whose result must not depend
    /// on the scope it runs in (L4Q's merge W0 + α·BA, which the training forward and the fp32
    /// export must quantize identically).
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// B[cols×rows] (row stride `ldb`) = Aᵀ for A[rows×cols] (row stride `lda`): OpenBLAS's
    /// blocked out-of-place transpose.
    @inlinable
    public static func transpose(rows: Int, cols: Int, a: UnsafePointer<Float>, lda: Int,
                                 b: UnsafeMutablePointer<Float>, ldb: Int) {
        cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(rows), Int32(cols), 1, a, Int32(lda), b, Int32(ldb))
    }

    /// y[m] = alpha · op(A) · x + beta · y, A row-major m×n (op(A) = Aᵀ when `trans`). Inside a
    /// `SecondCore.splitting` scope a large untransposed product runs as two row halves on the two
    /// cores, since OpenBLAS is then held to one thread.
    public static func gemv(
        trans: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        func rows(_ r: Range<Int>) {
            cblas_sgemv(
                CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(n), alpha, a + r.lowerBound * lda, Int32(lda),
                x, 1, beta, y + r.lowerBound, 1)
        }
        if trans {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
        } else if m * n >= splitGEMVWeights && SecondCore.shared.isSplitting {
            let half = m / 2
            SecondCore.shared.run { part in rows(part == 0 ? 0..<half : half..<m) }
        } else {
            rows(0..<m)
        }
    }

    /// Matrix–vector products at least this large (weights) are split over the two cores while
    /// splitting is on: below it the hand-off costs more than the half it moves.
    public static let splitGEMVWeights = 1 << 18
}
