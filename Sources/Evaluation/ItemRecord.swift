/// One scored document, kept so two runs over the same items can be paired item by item.
public struct ItemRecord: Codable, Equatable, Sendable {
    public let id: String
    public let subtask: String
    /// Summed continuation log-likelihood per choice.
    public let logLikelihoods: [Double]
    public let isGreedy: [Bool]
    /// Code-point length of each choice string (acc_norm's divisor).
    public let choiceLengths: [Int]
    public let prediction: Int
    public let normalizedPrediction: Int
    public let gold: Int
    /// acc for this item.
    public let correct: Bool
    /// acc_norm for this item.
    public let correctNormalized: Bool

    public init(document: TaskDocument, results: [LogLikelihoodResult]) {
        let ll = results.map(\.logLikelihood)
        id = document.id
        subtask = document.subtask
        logLikelihoods = ll
        isGreedy = results.map(\.isGreedy)
        choiceLengths = document.choices.map(PythonText.length)
        prediction = Metrics.prediction(logLikelihoods: ll)
        normalizedPrediction = Metrics.normalizedPrediction(logLikelihoods: ll, choices: document.choices)
        gold = document.gold
        correct = prediction == gold
        correctNormalized = normalizedPrediction == gold
    }

    /// This item's value (0 or 1) for `metric`.
    public func value(_ metric: Metric) -> Double {
        switch metric {
        case .acc: return correct ? 1 : 0
        case .accNorm: return correctNormalized ? 1 : 0
        }
    }
}
