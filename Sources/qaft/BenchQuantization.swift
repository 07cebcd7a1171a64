import Foundation
import Models
import Quantization
import Tensor

extension Bench {
    /// Low-bit kernels against the fp32 cblas path on SmolLM2's projection shapes, as speed-ups
    /// (fp32 time / low-bit time, both medians from this run): decode-shaped GEMV (one row) on float
    /// and on int8 activations, and prefill-shaped GEMM (512 rows) in fp32 and, where bf16 products
    /// run, in a bf16 scope against the dense layer's bf16 product (its cached bf16 copy), for 4/3/2-bit packed layers and
    /// QEFT's mixed layout (4-bit, k = 16 weak columns at the tail); the head (49152×576) on its
    /// Q8_0 grid, GEMV only. The int8 GEMVs are timed twice: on one matrix, which stays in cache
    /// across calls, and cycling through distinct copies of it that together exceed the last-level
    /// cache, so that the weights stream from memory as in decode, which reads every layer's
    /// weights (66 MB at w4 g64) once per token.
    func quantizationSection(_ weights: LlamaWeights) throws {
        print("\n## quantized kernels (speed-up over fp32 cblas; GEMV split over both cores, GEMM n=512 per timing)")
        print("  hot: one matrix, cache-resident; streamed: distinct copies of it, \(Self.streamedBytes >> 20) MB in all, in turn")
        print("  shape (out×in)   kernel         hot µs  ×fp32  int8-act µs  ×fp32  streamed int8 µs  ×fp32   GEMM ms  ×fp32   bf16 GEMM ms  ×dense bf16")
        let n = 512
        var rng = SeededRandom(seed: 3)
        for (rows, cols) in [(576, 576), (192, 576), (1536, 576), (576, 1536)] {
            let w = Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in rng.nextGaussian() * 0.05 })
            let x = (0..<(n * cols)).map { _ in rng.nextGaussian() }
            // Each copy gets its own storage (`map` copies; the arrays would otherwise be shared).
            func copies(bits: Int, _ make: () throws -> any LinearOperator) rethrows -> [any LinearOperator] {
                try (0..<max(2, Self.streamedBytes * 8 / (rows * cols * bits) + 1)).map { _ in try make() }
            }
            var layers: [(String, [any LinearOperator])] = []
            for bits in [4, 3, 2] {
                let q = try UniformQuantizer(bits: bits).quantize(w, groupSize: 64)
                layers.append(("w\(bits) g64", try copies(bits: bits) { QuantizedLinear(try PackedWeights(q)) }))
            }
            // GPTQ with H = I: the real QEFT layout (ragged last group of the in − k columns).
            let identity = (0..<(cols * cols)).map { $0 % (cols + 1) == 0 ? 1.0 : 0.0 }
            let qeft = try GPTQ.quantize(weight: w, hessian: identity, quantizer: UniformQuantizer(bits: 4),
                                         options: .init(groupSize: 64), weakColumns: Array((cols - 16)..<cols))
            layers.append(("QEFT w4 k16", try copies(bits: 4) {
                let p = try qeft.packed()
                return MixedPrecisionLinear(try MixedPrecisionWeights(lowBit: p.lowBit, weak: Matrix(rows: p.weak.rows, cols: p.weak.cols,
                                                                                                     storage: p.weak.storage.map { $0 }),
                                                                      weakIndices: p.weakIndices))
            }))
            let fp = copies(bits: 32) { DenseLinear(Matrix(rows: rows, cols: cols, storage: w.storage.map { $0 })) }
            try compare(rows: rows, cols: cols, fp: fp, layers, x: x, gemmRows: n)
        }
        let head = weights.head
        try compare(rows: head.rows, cols: head.cols, fp: [DenseLinear(head)],
                    [("Q8_0 g32", [QuantizedLinear(try PackedWeights(try Q8Zero.quantize(head)))])],
                    x: (0..<head.cols).map { _ in rng.nextGaussian() }, gemmRows: nil)
    }

    /// What each streamed GEMV cycles through: twice the 32 MB last-level cache of the 2-core
    /// machines this is measured on.
    static let streamedBytes = 64 << 20

    /// One shape's table rows: `fp`, then each layer's GEMV on float and int8 activations (both cores
    /// splitting each product, as in decode) on its first copy and, when there are several, int8
    /// on all copies in turn (fp32 likewise), and, when `gemmRows` is given, its GEMM over that many rows.
    private func compare(rows: Int, cols: Int, fp: [any LinearOperator], _ layers: [(String, [any LinearOperator])],
                         x: [Float], gemmRows: Int?) throws {
        // About 0.1 s of fp32 sgemv per timing: 200 calls at 576×576, fewer on larger shapes.
        let calls = max(5, 200 * 576 * 576 / (rows * cols))
        var y = [Float](repeating: 0, count: (gemmRows ?? 1) * rows)
        func gemv(_ copies: [any LinearOperator]) -> Double {
            // At least one pass over all copies, so that each is read from memory, not cache.
            let n = max(calls, copies.count)
            return SecondCore.shared.splitting { median { for c in 0..<n { copies[c % copies.count].apply(x, rows: 1, into: &y) } } } / Double(n)
        }
        func int8(_ copies: [any LinearOperator]) -> Double {
            let selectable = copies.compactMap { $0 as? DecodeActivationSelectable }
            for s in selectable { s.decodeActivations = .int8 }
            defer { for s in selectable { s.decodeActivations = .float32 } }
            return gemv(copies)
        }
        func gemm(_ layer: any LinearOperator) -> Double? { gemmRows.map { n in median { layer.apply(x, rows: n, into: &y) } } }
        func gemmBF16(_ layer: any LinearOperator) -> Double? {
            BF16.unavailableReason == nil ? ComputePrecision.with(.bf16) { gemm(layer) } : nil
        }
        func column(_ t: Double?, _ reference: Double?, scale: Double) -> String {
            guard let t, let reference else { return "       –      –" }
            return String(format: "%8.2f  %5.2f", t * scale, reference / t)
        }
        // Every GEMV before any GEMM: OpenBLAS's threads keep spinning for a while after a GEMM and
        // would compete with the split GEMVs for the two cores.
        let fpGEMV = gemv([fp[0]]), fpStreamed = fp.count > 1 ? gemv(fp) : nil
        let gemvs = layers.map { _, copies in
            (float: gemv([copies[0]]), int8: int8([copies[0]]), streamed: copies.count > 1 ? int8(copies) : nil)
        }
        let fpGEMM = gemm(fp[0]), denseBF16 = gemmBF16(fp[0])
        print(String(format: "  %5d×%-5d      %-12@ %8.1f   1.00  %@        %@      %@        %@", rows, cols, "fp32 cblas" as NSString, fpGEMV * 1e6,
                     column(nil, nil, scale: 1) as NSString, column(fpStreamed, fpStreamed, scale: 1e6) as NSString,
                     column(fpGEMM, fpGEMM, scale: 1e3) as NSString, column(denseBF16, denseBF16, scale: 1e3) as NSString))
        for ((name, copies), t) in zip(layers, gemvs) {
            print(String(format: "  %5d×%-5d      %-12@ %8.1f  %5.2f  %@        %@      %@        %@", rows, cols, name as NSString, t.float * 1e6,
                         fpGEMV / t.float, column(t.int8, fpGEMV, scale: 1e6) as NSString,
                         column(t.streamed, fpStreamed, scale: 1e6) as NSString,
                         column(gemm(copies[0]), fpGEMM, scale: 1e3) as NSString,
                         column(gemmBF16(copies[0]), denseBF16, scale: 1e3) as NSString))
        }
    }
}
