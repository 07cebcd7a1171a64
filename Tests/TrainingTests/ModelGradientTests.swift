import Models
import Tensor
import TestSupport
import Training
import XCTest

/// The whole training backward (two stories260K blocks, LoRA r=4 on all seven projections) against
/// central differences of the float64 reference model, for the embedded input and every A and B.
final class ModelGradientTests: XCTestCase {
    static let loaded = try! ModelLoader.load(Fixtures.stories260K)

    func testTwoLayerLoRAModelGradients() throws {
        var w = Self.loaded.weights
        w.layers = Array(w.layers.prefix(2))
        w.config.layerCount = 2
        try checkGradients(w)
    }

    /// The same check through what the other families add: a bias on every projection (frozen),
    /// a head dimension apart from dim / heads (12 ≠ 64 / 8), Llama 3 RoPE scaling, and a sliding
    /// window of 3 keys in the second block only, shorter than both sequences.
    func testBiasesHeadDimRoPEScalingAndBandMaskGradients() throws {
        var w = Self.loaded.weights
        w.layers = Array(w.layers.prefix(2))
        w.config.layerCount = 2
        w.config.headDim = 12
        w.config.ropeScaling = .llama3(factor: 4, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8)
        w.config.slidingWindow = 3
        w.config.slidingLayers = [1]
        var rng = SeededRandom(seed: 21)
        func gaussian(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextGaussian() * 0.1 } }
        for l in w.layers.indices {
            for p in Projection.allCases {
                let (rows, cols) = p.shape(w.config)
                if p == .q || p == .k || p == .v || p == .o { w.layers[l][p] = Matrix(rows: rows, cols: cols, storage: gaussian(rows * cols)) }
                w.layers[l].biases[p] = gaussian(rows)
            }
        }
        try w.validateShapes(source: "test")
        try checkGradients(w)
    }

    private func checkGradients(_ w: LlamaWeights) throws {
        var rng = SeededRandom(seed: 3)
        let lora = LoRAConfig(rank: 4, alpha: 8)
        var adapters: [LinearSite: LoRALinear] = [:]
        let model = TrainableLlama(w) { site, dense in
            let l = LoRALinear(base: dense, config: lora, name: site.description, random: &rng)
            // B = 0 would make every A gradient 0; a random B exercises both paths.
            for i in 0..<l.b.count { l.b.value.pointer[i] = rng.nextGaussian() * 0.05 }
            adapters[site] = l
            return l
        }
        let batch = TrainingBatch([
            TrainingSequence(tokens: [1, 403, 261, 335, 289, 360, 267, 290, 379], responseStart: 3),
            TrainingSequence(tokens: [1, 296, 414, 271, 288, 328], responseStart: 1),
        ])
        let N = batch.tokens.rowCount, D = w.config.dim
        let loss = try model.forwardBackward(batch, lossScale: 1 / Float(batch.scoredCount), random: SeededRandom(seed: 0))
        let inputGrad = model.inputGradient(rows: N)

        func reference(_ override: (LinearSite, Parameter)? = nil, _ value: [Double] = []) -> Ref.Model {
            let projections = w.layers.indices.map { l in
                Dictionary(uniqueKeysWithValues: Projection.allCases.map { p -> (Projection, [Double]) in
                    let site = LinearSite(layer: l, projection: p), a = adapters[site]!
                    let base = (a.base as! DenseLinear).weight
                    func values(_ q: Parameter) -> [Double] {
                        if let o = override, o.0 == site, o.1 === q { return value }
                        return q.value.array(q.count).map(Double.init)
                    }
                    let A = values(a.a), B = values(a.b), r = lora.rank, s = Double(lora.scale)
                    var eff = base.storage.map(Double.init)
                    for o in 0..<base.rows { for i in 0..<base.cols {
                        var d = 0.0
                        for k in 0..<r { d += B[o * r + k] * A[k * base.cols + i] }
                        eff[o * base.cols + i] += s * d
                    } }
                    return (p, eff)
                })
            }
            return Ref.Model(weights: w, projections: projections)
        }
        XCTAssertEqual(loss.meanNLL, reference().meanLoss(batch), accuracy: 1e-5)

        var dirRng = SeededRandom(seed: 11)
        /// Directional derivatives along g/‖g‖ and a random unit direction, each compared to the
        /// analytic projection; the random one relative to ‖g‖ since its projection may be near 0.
        func check(_ g: [Float], _ what: String, _ f: ([Double]) -> Double, at x: [Double]) {
            let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 0, "\(what): zero gradient")
            var random = (0..<g.count).map { _ in Double(dirRng.nextGaussian()) }
            let rn = random.reduce(0) { $0 + $1 * $1 }.squareRoot()
            random = random.map { $0 / rn }
            for (name, v) in [("gradient", g.map { Double($0) / norm }), ("random", random)] {
                let h = 1e-4
                let fd = (f(zip(x, v).map { $0 + h * $1 }) - f(zip(x, v).map { $0 - h * $1 })) / (2 * h)
                let an = zip(g, v).reduce(0.0) { $0 + Double($1.0) * $1.1 }
                XCTAssertLessThan(abs(fd - an) / norm, 2e-3, "\(what) along \(name) direction: analytic \(an), numeric \(fd)")
            }
        }
        let ref = reference()
        check(inputGrad, "input", { ref.meanLoss(batch, inputDelta: $0) }, at: [Double](repeating: 0, count: N * D))
        for (site, a) in adapters.sorted(by: { $0.key.description < $1.key.description }) {
            for p in a.parameters {
                check(p.gradient.array(p.count), p.name, { reference((site, p), $0).meanLoss(batch) },
                      at: p.value.array(p.count).map(Double.init))
            }
        }
    }

    func testLoRAMergeMatchesAdapterPath() throws {
        var rng = SeededRandom(seed: 5)
        let base = DenseLinear(Matrix(rows: 6, cols: 10, storage: (0..<60).map { _ in rng.nextGaussian() }))
        let l = LoRALinear(base: base, config: LoRAConfig(rank: 2, alpha: 4), name: "t", random: &rng)
        for i in 0..<l.b.count { l.b.value.pointer[i] = rng.nextGaussian() }
        let x = (0..<30).map { _ in rng.nextGaussian() }
        var y1 = [Float](repeating: 0, count: 18), y2 = y1
        l.apply(x, rows: 3, into: &y1)
        try l.merged().apply(x, rows: 3, into: &y2)
        for (a, b) in zip(y1, y2) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertThrowsError(try LoRALinear(base: FrozenLinearBase(), config: LoRAConfig(rank: 1, alpha: 1), name: "q", random: &rng).merged())
    }
}

/// A base that is not dense, to check that merging refuses it.
private final class FrozenLinearBase: InputGradientLinear {
    var inFeatures: Int { 2 }
    var outFeatures: Int { 2 }
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) { y.update(from: x, count: rows * 2) }
    func applyTransposed(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for i in 0..<(rows * 2) { dx[i] = (accumulate ? dx[i] : 0) + dy[i] }
    }
}
