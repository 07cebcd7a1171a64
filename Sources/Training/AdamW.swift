import Foundation
import Tensor

/// Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's `AdamW` arithmetic:
/// p ← p(1 − lr·λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·m̂/(√v̂ + ε) with
/// bias-corrected m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). Moments are float32, one pair per parameter.
public final class AdamW: Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    private var moments: [String: (m: FloatBuffer, v: FloatBuffer)] = [:]

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    private func state(_ p: Parameter) -> (m: FloatBuffer, v: FloatBuffer) {
        if let s = moments[p.name] { return s }
        let s = (FloatBuffer(capacity: p.count), FloatBuffer(capacity: p.count))
        moments[p.name] = s
        return s
    }

    public func stateTensors(for parameters: [Parameter]) -> [(name: String, buffer: FloatBuffer, count: Int)] {
        parameters.flatMap { p -> [(name: String, buffer: FloatBuffer, count: Int)] in
            let s = state(p)
            return [(p.name + ".adam_m", s.m, p.count), (p.name + ".adam_v", s.v, p.count)]
        }
    }

    public func update(_ parameters: [Parameter], learningRate lr: Float, step t: Int) {
        let c1 = 1 / (1 - Float(Foundation.pow(Double(beta1), Double(t))))
        let c2 = 1 / (1 - Float(Foundation.pow(Double(beta2), Double(t))))
        let b1 = Float16x(repeating: beta1), b2 = Float16x(repeating: beta2)
        let nb1 = Float16x(repeating: 1 - beta1), nb2 = Float16x(repeating: 1 - beta2)
        let vc1 = Float16x(repeating: c1), vc2 = Float16x(repeating: c2), eps = Float16x(repeating: epsilon)
        let decay = Float16x(repeating: 1 - lr * weightDecay), vlr = Float16x(repeating: lr)
        for p in parameters {
            let (ms, vs) = state(p)
            let w = p.value.pointer, g = p.gradient.pointer, m = ms.pointer, v = vs.pointer, n = p.count
            var i = 0
            while i + 16 <= n {
                let gi = SIMDMath.load(g + i)
                let mi = b1 * SIMDMath.load(m + i) + nb1 * gi
                let vi = b2 * SIMDMath.load(v + i) + nb2 * gi * gi
                SIMDMath.store(mi, m + i)
                SIMDMath.store(vi, v + i)
                let step = vlr * (mi * vc1) / ((vi * vc2).squareRoot() + eps)
                SIMDMath.store(SIMDMath.load(w + i) * decay - step, w + i)
                i += 16
            }
            while i < n {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                w[i] = w[i] * (1 - lr * weightDecay) - lr * (m[i] * c1) / ((v[i] * c2).squareRoot() + epsilon)
                i += 1
            }
        }
    }
}
