import Foundation
import Models
import Quantization
import Tensor

extension Bench {
    /// Low-bit kernels against the fp32 cblas path on SmolLM2's projection shapes, as speed-ups
    /// (fp32 time / low-bit time, both medians from this run): decode-shaped GEMV (one row) and
    /// prefill-shaped GEMM (512 rows), for 4/3/2-bit packed layers and QEFT's mixed layout (4-bit,
    /// k = 16 weak columns at the tail); then whole-model decode with every projection RTN w4 g64.
    func quantizationSection(_ weights: LlamaWeights) throws {
        print("\n## quantized kernels (speed-up over fp32 cblas; GEMV ×200 split over both cores, GEMM n=512 per timing)")
        print("  shape (out×in)   kernel          GEMV µs  ×fp32   GEMM ms  ×fp32")
        let n = 512, calls = 200
        var rng = SeededRandom(seed: 3)
        for (rows, cols) in [(576, 576), (1536, 576), (576, 1536)] {
            let w = Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in rng.nextGaussian() * 0.05 })
            let x = (0..<(n * cols)).map { _ in rng.nextGaussian() }
            var y = [Float](repeating: 0, count: n * rows)
            func time(_ layer: any LinearOperator) -> (gemv: Double, gemm: Double) {
                // Decode conditions: both cores split each product (`SecondCore`).
                let v = SecondCore.shared.splitting { median { for _ in 0..<calls { layer.apply(x, rows: 1, into: &y) } } } / Double(calls)
                let m = median { layer.apply(x, rows: n, into: &y) }
                return (v, m)
            }
            let fp = time(DenseLinear(w))
            var layers: [(String, any LinearOperator)] = []
            for bits in [4, 3, 2] {
                layers.append(("w\(bits) g64", QuantizedLinear(try PackedWeights(UniformQuantizer(bits: bits).quantize(w, groupSize: 64)))))
            }
            // GPTQ with H = I: the real QEFT layout (ragged last group of the in − k columns).
            let identity = (0..<(cols * cols)).map { $0 % (cols + 1) == 0 ? 1.0 : 0.0 }
            let qeft = try GPTQ.quantize(weight: w, hessian: identity, quantizer: UniformQuantizer(bits: 4),
                                         options: .init(groupSize: 64), weakColumns: Array((cols - 16)..<cols))
            layers.append(("QEFT w4 k16", MixedPrecisionLinear(try qeft.packed())))
            print(String(format: "  %4d×%-4d        fp32 cblas     %8.1f   1.00   %7.2f   1.00", rows, cols, fp.gemv * 1e6, fp.gemm * 1e3))
            for (name, layer) in layers {
                let t = time(layer)
                print(String(format: "  %4d×%-4d        %-12@   %8.1f  %5.2f   %7.2f  %5.2f", rows, cols, name as NSString,
                             t.gemv * 1e6, fp.gemv / t.gemv, t.gemm * 1e3, fp.gemm / t.gemm))
            }
        }

        let quantized = try ModelQuantizer.quantize(weights, options: .init(method: .rtn, bits: 4, groupSize: 64), calibration: nil)
        let prompt = (0..<16).map { _ in Int(rng.next() % UInt64(weights.config.vocabSize)) }
        func decodeRate(_ model: Llama) throws -> Double { try DecodeSpeed.tokensPerSecond(model, prompt: prompt, repeats: repeats) }
        let fpRate = try decodeRate(Llama(weights)), qRate = try decodeRate(quantized.llama())
        let q8Head = quantized.llama()
        try q8Head.quantizeHead()
        let q8Rate = try decodeRate(q8Head)
        print(String(format: "  whole-model decode, batch 1: fp32 %.1f tokens/s; RTN w4 g64 (%.2f bits/weight) %.1f tokens/s = %.2f×, with the head on the checkpoint's Q8_0 grid as in llama.cpp's Q4_0 file %.1f tokens/s = %.2f×",
                     fpRate, quantized.bitsPerWeight, qRate, qRate / fpRate, q8Rate, q8Rate / fpRate))
    }
}
