import Foundation
import Tensor

/// LoTA-QAF's t-SignSGD for ternary factors (entries in {−1, 0, +1}): per tensor, only entries whose
/// gradient magnitude exceeds the q_t-quantile of |g| (and τ) move, by one step against the sign
/// of the gradient, then clip to [−1, 1]. No learning rate, no momentum, no state: the moving
/// fraction 1 − q_t is the step size. q_t follows the reference code: 0.95 → 0.999 linearly over
/// the first 80 % of `totalSteps`, then 0.999 → 0.9999 over the rest.
public final class TernarySignSGD: Optimizer {
    public let totalSteps: Int
    public let tau: Float
    private var magnitudes: [Float] = []

    public init(totalSteps: Int, tau: Float = 1e-9) {
        self.totalSteps = Swift.max(1, totalSteps)
        self.tau = tau
    }

    /// The quantile q_t of |g| below which entries stay put at optimizer step `step` (from 1).
    public func quantile(at step: Int) -> Double {
        let knee = 0.8 * Double(totalSteps), s = Double(Swift.min(step, totalSteps))
        if s <= knee { return 0.95 + (0.999 - 0.95) * (s - 1) / Swift.max(knee - 1, 1) }
        return 0.999 + (0.9999 - 0.999) * (s - knee) / Swift.max(Double(totalSteps) - knee, 1)
    }

    public func stateTensors(for parameters: [Parameter]) -> [(name: String, buffer: FloatBuffer, count: Int)] { [] }

    public func update(_ parameters: [Parameter], learningRate: Float, step: Int) {
        let q = quantile(at: step)
        for p in parameters {
            let w = p.value.pointer, g = p.gradient.pointer, n = p.count
            magnitudes.removeAll(keepingCapacity: true)
            for i in 0..<n { magnitudes.append(abs(g[i])) }
            magnitudes.sort()
            // torch.quantile's linear interpolation between the two nearest ranks.
            let pos = q * Double(n - 1), lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, n - 1)
            let threshold = Swift.max(tau, magnitudes[lo] + Float(pos - Double(lo)) * (magnitudes[hi] - magnitudes[lo]))
            for i in 0..<n where abs(g[i]) > threshold {
                w[i] = Swift.min(1, Swift.max(-1, (w[i] - (g[i] > 0 ? 1 : -1)).rounded()))
            }
        }
    }
}
