import Tensor

/// Updates parameters from their accumulated gradients. Each `ParameterGroup` names its optimizer,
/// so methods mix them (AdamW for float adapters, a sign rule for ternary factors).
public protocol Optimizer: AnyObject {
    /// One update of every parameter in `parameters`; `step` counts optimizer steps from 1 and
    /// `learningRate` is the scheduled rate times the group's scale.
    func update(_ parameters: [Parameter], learningRate: Float, step: Int)

    /// The optimizer's per-parameter state as named buffers of `count` floats, created if missing,
    /// which a checkpoint reads and writes in place. Empty for stateless optimizers.
    func stateTensors(for parameters: [Parameter]) -> [(name: String, buffer: FloatBuffer, count: Int)]
}
