import Methods
import Models
import Quantization

extension DeployedModel {
    /// The model as it decodes when deployed, the form whose speed the speed figures measure
    /// (`llama()` is the form qaft scores, which computes the same function with every grid
    /// dequantized, so that an evaluation equals the training forward bit for bit):
    /// - a grid runs on the packed low-bit kernels (`QuantizedLinear`); one whose groups the packed
    ///   layout cannot hold (not a multiple of 16) stays a `GridLinear`;
    /// - a mixed layer on its packed kernel with the fp weak columns (`MixedPrecisionLinear`);
    /// - NF4 dequantized into a temporary weight before each product, as bitsandbytes' matmul path
    ///   does (`NF4Linear`, encoded again from the stored values: its block scales may then differ
    ///   in the last bits, which changes nothing this form is for);
    /// - a float weight densely;
    /// - an unmerged adapter as two small products beside its base (`UnmergedAdapter`).
    public func decodingLlama() throws -> Llama {
        let model = Llama(weights)
        for l in model.blocks.indices {
            for p in Projection.allCases { model.blocks[l][p] = try layers[l][p]!.decodingLinear() }
        }
        return model
    }
}

extension DeployedLayer {
    /// This layer in its decoding form (`DeployedModel.decodingLlama`).
    func decodingLinear() throws -> any LinearOperator {
        let base: any LinearOperator
        switch self.base {
        case .grid(let q): base = (try? PackedWeights(q)).map { QuantizedLinear($0) } ?? GridLinear(q)
        case .mixed(let m): base = MixedPrecisionLinear(m)
        case .nf4(let w): base = NF4Linear(w)
        case .dense(let w): base = DenseLinear(w)
        }
        guard let adapter else { return base }
        return UnmergedAdapter(base: base, a: adapter.a, b: adapter.b, scale: adapter.alpha / Float(adapter.rank))
    }
}
