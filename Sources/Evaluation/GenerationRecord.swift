/// One generated answer, kept so two runs over the same items can be paired item by item and so a
/// reader can see what the model wrote.
public struct GenerationRecord: Codable, Equatable, Sendable {
    public let id: String
    public let promptTokens: Int
    /// New tokens, the stopping EOS included.
    public let generatedTokens: Int
    /// Whether the model ended with EOS (else it ran into `maxLength`).
    public let stoppedAtEOS: Bool
    /// The decoded generation, EOS left out, unstripped.
    public let prediction: String
    /// `FinalAnswer.extract(prediction)`.
    public let extracted: String
    /// `FinalAnswer.extract` of the reference solution.
    public let reference: String
    /// Whether the prediction has the marker at all (it learnt the answer format).
    public let hasMarker: Bool
    public let correct: Bool

    public init(id: String, promptTokens: Int, generatedTokens: Int, stoppedAtEOS: Bool, prediction: String, referenceSolution: String) {
        self.id = id
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.stoppedAtEOS = stoppedAtEOS
        self.prediction = prediction
        extracted = FinalAnswer.extract(prediction)
        reference = FinalAnswer.extract(referenceSolution)
        hasMarker = prediction.utf8.contains(FinalAnswer.marker.utf8)
        correct = FinalAnswer.matches(prediction: prediction, reference: referenceSolution)
    }
}
