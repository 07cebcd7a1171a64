import Models
import Quantization
import Training

extension ExportedModel {
    /// Rewires `model` in place into the form it is deployed in for decoding. Integer layers
    /// exported as `GridLinear` (which computes with its dequantized weight, so that an export
    /// equals its training forward bit for bit) are repacked as low-bit codes for the packed
    /// kernels when their group size allows it (a multiple of 16): merged integer layers become
    /// `QuantizedLinear`, and an unmerged LoRA over such a base (QLoRA*, LoftQ*, GPTQ+LoRA) keeps
    /// its float side path over the packed base. Every other layer stays as exported: packed,
    /// mixed (QEFT), NF4 with its adapter (dequantized per product, as bitsandbytes' matmul), or
    /// dense. The function is unchanged up to float summation order.
    public func packForDecoding() {
        func packed(_ op: any LinearOperator) -> any LinearOperator {
            switch op {
            case let g as GridLinear:
                return (try? PackedWeights(g.grid)).map { QuantizedLinear($0) } ?? op
            case let f as FrozenLinear:
                return packed(f.base)
            case let l as LoRALinear:
                guard let g = l.base as? GridLinear, let w = try? PackedWeights(g.grid) else { return op }
                return UnmergedAdapter(base: QuantizedLinear(w), adapter: l)
            default:
                return op
            }
        }
        for l in model.blocks.indices {
            for p in Projection.allCases { model.blocks[l][p] = packed(model.blocks[l][p]) }
        }
    }
}
