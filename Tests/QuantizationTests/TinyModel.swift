import Models
import Tensor

/// A small random LLaMA (2 blocks, dim 64, MLP 128) whose widths admit group size 32, for tests
/// that quantize a whole model in well under a second.
enum TinyModel {
    static func weights(seed: UInt64 = 1, tied: Bool = false) -> LlamaWeights {
        let c = LlamaConfig(dim: 64, hiddenDim: 128, layerCount: 2, headCount: 4, kvHeadCount: 2, vocabSize: 96,
                            contextLength: 64, ropeTheta: 10000, normEps: 1e-5, ropeStyle: .interleaved, tiedEmbeddings: tied)
        var s = seed
        func m(_ r: Int, _ cols: Int) -> Matrix {
            s += 1
            return TestData.gaussian(r, cols, seed: s, scale: 1 / Float(cols).squareRoot())
        }
        func norm() -> [Float] {
            s += 1
            var rng = SeededRandom(seed: s)
            return (0..<c.dim).map { _ in 0.5 + rng.nextUnitFloat() }
        }
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attnNorm: norm(), wq: m(64, 64), wk: m(32, 64), wv: m(32, 64), wo: m(64, 64),
                              ffnNorm: norm(), gate: m(128, 64), up: m(128, 64), down: m(64, 128))
        }
        return LlamaWeights(config: c, tokenEmbedding: m(96, 64), layers: layers, finalNorm: norm(), output: tied ? nil : m(96, 64))
    }

    static func windows(_ n: Int, length: Int, seed: UInt64) -> [[Int]] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in (0..<length).map { _ in Int(rng.next() % 96) } }
    }
}
