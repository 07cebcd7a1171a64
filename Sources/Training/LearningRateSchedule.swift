import Foundation

/// Learning rate per optimizer step: linear warm-up from 0 to `peak` over `warmupSteps`, then
/// cosine decay to `peak · minimumRatio` at `totalSteps` (or constant after warm-up).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, Sendable { case cosine, constant }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minimumRatio: Float
    public var decay: Decay

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minimumRatio: Float = 0, decay: Decay = .cosine) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimumRatio = minimumRatio
        self.decay = decay
    }

    /// The rate at optimizer step `step`, counting from 1.
    public func rate(at step: Int) -> Float {
        if step <= warmupSteps { return peak * Float(step) / Float(Swift.max(warmupSteps, 1)) }
        guard decay == .cosine, totalSteps > warmupSteps else { return peak }
        let progress = Double(Swift.min(step, totalSteps) - warmupSteps) / Double(totalSteps - warmupSteps)
        let floor = peak * minimumRatio
        return floor + (peak - floor) * Float(0.5 * (1 + cos(Double.pi * progress)))
    }
}
