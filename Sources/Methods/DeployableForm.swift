import Models
import Quantization
import Training

extension ExportedModel {
    /// Rewires `model` in place so that every integer grid is in its deployable form
    /// (`QuantizedMatrix.deployable`): what qaft evaluates is then what llama.cpp or a GPTQ runtime
    /// computes from the exported file, bit for bit. The grids the quantizers choose are deployable
    /// already; the ones training learns (L4Q, the LSQ rows, PEQA, OmniQuant, QA-LoRA's and
    /// LoTA-QAF's merged zeros) move by fp16 rounding. `mergeDifference` keeps measuring the merge
    /// itself (before this step); the returned largest |logit| change on the probe batch, 0 when no
    /// grid changed, measures this step.
    @discardableResult
    public func makeDeployable() throws -> Float {
        var changed = false
        func deployable(_ op: any LinearOperator) -> any LinearOperator {
            switch op {
            case let g as GridLinear:
                let q = g.grid.deployable()
                if q == g.grid { return op }
                changed = true
                return GridLinear(q)
            case let p as QuantizedLinear:
                let q = p.weights.unpacked().deployable()
                guard q.offsets != p.weights.offsets || q.scales != p.weights.scales, let w = try? PackedWeights(q) else { return op }
                changed = true
                return QuantizedLinear(w, decodeActivations: p.decodeActivations)
            case let f as FrozenLinear:
                let base = deployable(f.base)
                return base as AnyObject === f.base as AnyObject ? op : FrozenLinear(base as! any InputGradientLinear)
            default:
                return op
            }
        }
        let blocks = model.blocks.map { block in
            var b = block
            for p in Projection.allCases { b[p] = deployable(b[p]) }
            return b
        }
        guard changed else { return 0 }
        let before = try probeLogits(model)
        model.blocks = blocks
        return largestDifference(before, try probeLogits(model))
    }
}
