import Foundation

/// A model ready to run: its weights in float32 and the tokenizer that came with it.
public struct LoadedModel: Sendable {
    public var weights: LlamaWeights
    public var tokenizer: any Tokenizer
    /// The file or folder it was read from.
    public var source: URL

    public init(weights: LlamaWeights, tokenizer: any Tokenizer, source: URL) {
        self.weights = weights
        self.tokenizer = tokenizer
        self.source = source
    }

    public var config: LlamaConfig { weights.config }
}
