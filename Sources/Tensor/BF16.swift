import CDNNL
import CKernels
import Foundation

/// One operand of a bf16 product: fp32 values rounded to bf16 for this call, or a matrix already
/// held in bf16 (a frozen weight's `BF16Matrix`), each row-major with its leading dimension.
public enum BF16Operand {
    case float(UnsafePointer<Float>, ld: Int)
    case bf16(UnsafePointer<UInt16>, ld: Int)

    /// The stored rows `r` of the operand (`storedRows`), or its columns `r`.
    func part(_ r: Range<Int>, storedRows: Bool) -> BF16Operand {
        switch self {
        case let .float(p, ld): return .float(storedRows ? p + r.lowerBound * ld : p + r.lowerBound, ld: ld)
        case let .bf16(p, ld): return .bf16(storedRows ? p + r.lowerBound * ld : p + r.lowerBound, ld: ld)
        }
    }
}

/// The mixed-precision GEMM: operands rounded to bf16 (nearest, ties to even), products
/// accumulated and written in fp32 — oneDNN's `gemm_bf16bf16f32`, which runs its avx512_core_bf16
/// (or AMX) kernels here. Measured on the 2-core AVX-512 machine at SmolLM2 shapes it multiplies
/// about twice as fast as OpenBLAS sgemm per core (`qaft bench` prints the ceiling).
public enum BF16 {
    /// Why bf16 products cannot run in this process, or nil when they can: the CPU (as oneDNN sees
    /// it, so `ONEDNN_MAX_CPU_ISA=AVX2` hides BF16) lacks AVX512_BF16 and AMX, or the environment
    /// forces fp32 with `QAFT_FORCE_FP32=1` (read on every call, so a test can set it).
    public static var unavailableReason: String? {
        if let raw = getenv("QAFT_FORCE_FP32"), case let force = String(cString: raw), !force.isEmpty, force != "0" {
            return "QAFT_FORCE_FP32=\(force) forces fp32 products"
        }
        return cpuReason
    }

    private static let cpuReason: String? = {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        if isa & bf16 == bf16 { return nil }
        return "this CPU has neither AVX512_BF16 nor AMX (oneDNN's effective ISA is 0x\(String(isa, radix: 16)))"
    }()

    /// Products smaller than this (m·n·k) stay in fp32 sgemm: below it rounding the operands and
    /// oneDNN's dispatch cost more than the faster kernel saves (`qaft bench` measures the shapes).
    public static let minimumProduct = 1 << 18

    /// Whether an m×n×k product runs in bf16 now: bf16 is the current precision (which is only ever
    /// bf16 where it is available) and the product is large enough to pay.
    @inline(__always)
    public static func applies(m: Int, n: Int, k: Int) -> Bool {
        ComputePrecision.current == .bf16 && m * n * k >= minimumProduct
    }

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C in bf16 × bf16 → fp32, row-major, the
    /// contract of `BLAS.gemm`. fp32 operands are rounded into per-thread scratch first. oneDNN
    /// always runs on one OpenMP thread: its OpenMP team spins between calls and, measured on the
    /// loaded 2-core machine, fought OpenBLAS's threads until whole training steps ran 3× slower.
    /// Where OpenBLAS may use two threads, C is split over the two cores with `SecondCore` instead
    /// (one oneDNN call per part) along its longer side: its rows when m ≥ n, each core rounding the
    /// part of A its rows read and half of the shared B; its columns when n > m, the roles swapped,
    /// so each core rounds, and oneDNN packs, only its part of the larger operand (for the head,
    /// half the vocabulary's rows of E instead of all of them on both cores). A C element's sum is
    /// the same in every split (checked bit for bit at the model's shapes). Inside
    /// `SecondCore.splitting` or the evaluator's one-thread workers the product stays on the calling
    /// thread, so the two libraries never oversubscribe.
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: BF16Operand, b: BF16Operand,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let byColumns = n > m, parts = byColumns ? n : m
        // The operand both parts read, rows × cols as stored: B (transB ? n×k : k×n) when C splits
        // by rows, A (transA ? k×m : m×k) when by columns; rounded once, its rows divided between
        // the cores.
        let shared = byColumns ? a : b
        let (rows, cols) = byColumns ? (transA ? (k, m) : (m, k)) : (transB ? (n, k) : (k, n))
        withRounded(shared, rows: rows, cols: cols, into: ThreadScratch.current.right, split: parts >= 32) { sp, lds in
            onBothCores(parts >= 32, rows: parts) { r in
                // C's rows r read A's rows r (columns when transposed); its columns r read B's
                // columns r (rows when transposed). Each core rounds just its part.
                let own = byColumns ? b.part(r, storedRows: transB) : a.part(r, storedRows: !transA)
                let (ownRows, ownCols) = byColumns ? (transB ? (r.count, k) : (k, r.count)) : (transA ? (k, r.count) : (r.count, k))
                withRounded(own, rows: ownRows, cols: ownCols, into: ThreadScratch.current.left, split: false) { op, ldo in
                    omp_set_num_threads(1)  // per calling thread (an OpenMP ICV): SecondCore's worker too
                    let status = dnnl_gemm_bf16bf16f32(
                        transA ? 84 : 78, transB ? 84 : 78, Int64(byColumns ? m : r.count), Int64(byColumns ? r.count : n),
                        Int64(k), alpha, byColumns ? sp : op, Int64(byColumns ? lds : ldo), byColumns ? op : sp,
                        Int64(byColumns ? ldo : lds), beta, c + (byColumns ? r.lowerBound : r.lowerBound * ldc), Int64(ldc))
                    precondition(status == dnnl_success, "oneDNN gemm_bf16bf16f32 failed (status \(status.rawValue)) for m=\(m) n=\(n) k=\(k)")
                }
            }
        }
    }

    /// `body` with the operand (`rows` × `cols`) in bf16: as given, or its fp32 values rounded
    /// (halves on the two cores when `split` and the operand is long enough) into `scratch`, this thread's kept buffer, or into a
    /// temporary when larger than `keptLimit` (a one-off operand such as a whole fp32 head is not
    /// kept for the thread's life).
    private static func withRounded(_ x: BF16Operand, rows: Int, cols: Int, into scratch: ScratchBuffer<UInt16>, split: Bool,
                                    _ body: (UnsafePointer<UInt16>, Int) -> Void) {
        switch x {
        case let .bf16(p, ld): body(p, ld)
        case let .float(p, ld):
            func fill(_ out: UnsafeMutablePointer<UInt16>) {
                func part(_ r: Range<Int>) {
                    round(p + r.lowerBound * ld, ld: ld, rows: r.count, cols: cols, into: out + r.lowerBound * cols, ldOut: cols)
                }
                // A small operand (LoRA's factors) is rounded here: the hand-off would cost more.
                if split { SecondCore.shared.halves(rows: rows, width: cols, part) } else { part(0..<rows) }
                body(out, cols)
            }
            let count = rows * cols
            if count <= keptLimit { return fill(scratch.reserve(count)) }
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: count) { fill($0.baseAddress!) }
        }
    }

    /// The most rounded values a thread keeps between products (16 MB): SmolLM2's largest, a head
    /// chunk's gradient, is 3.1 M per core.
    static let keptLimit = 1 << 23

    /// `body` over `0..<rows`: halves on the two cores when `split` and OpenBLAS may use both
    /// (`SecondCore.halves`), else the whole range here.
    private static func onBothCores(_ split: Bool, rows: Int, _ body: (Range<Int>) -> Void) {
        guard split else { return body(0..<rows) }
        SecondCore.shared.halves(rows, body)
    }

    /// `fill(piece, buffer)` for the consecutive pieces of `range`, `step` long (the last one
    /// shorter), half of them on each core (as `SecondCore.halves`), each core with its own fp32
    /// buffer of `bufferFloats`: the loop of a weight decoded to bf16 a few rows at a time, staged
    /// in a buffer that stays in cache, so the fp32 weight never reaches memory.
    public static func staged(_ range: Range<Int>, by step: Int, bufferFloats: Int,
                              _ fill: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        SecondCore.shared.halves((range.count + step - 1) / step) { mine in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: bufferFloats) { buffer in
                for piece in mine {
                    let lower = range.lowerBound + piece * step
                    fill(lower..<Swift.min(range.upperBound, lower + step), buffer.baseAddress!)
                }
            }
        }
    }

    /// out[r·ldOut + c] = bf16(x[r·ld + c]), round to nearest even (NaN stays NaN).
    public static func round(_ x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int,
                             into out: UnsafeMutablePointer<UInt16>, ldOut: Int) {
        qaft_f32_to_bf16(x, ld, rows, cols, out, ldOut)
    }

    /// out[i] = the fp32 value of bf16 bit pattern x[i] (exact), for i < count; halves on the two
    /// cores where OpenBLAS may use both (these passes are memory-bound and on a step's path).
    public static func expand(_ x: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) {
        SecondCore.shared.halves(rows: count, width: 1) { r in
            qaft_bf16_to_f32(x + r.lowerBound, r.count, out + r.lowerBound)
        }
    }

    /// bits[i] = bf16(x[i]) (as `round`) and x[i] = its fp32 value, in one pass; split as `expand`.
    public static func roundInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, keeping bits: UnsafeMutablePointer<UInt16>) {
        SecondCore.shared.halves(rows: count, width: 1) { r in
            qaft_round_bf16_in_place(x + r.lowerBound, r.count, bits + r.lowerBound)
        }
    }

    /// The fp32 value of a bf16 bit pattern (exact).
    @inline(__always)
    public static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
