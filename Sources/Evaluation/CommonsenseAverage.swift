/// "CSQA-7": the plain (unweighted) mean of the seven commonsense tasks, each at the metric papers
/// quote for it (ARC-E acc, ARC-C acc_norm, HellaSwag acc_norm, PIQA acc, WinoGrande acc, BoolQ
/// acc, OBQA acc_norm; see each task's `reportedMetric`).
public enum CommonsenseAverage {
    public static let tasks = ["boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"]

    /// The average over `runs`, which must include all seven tasks.
    public static func value(_ runs: [TaskRun]) throws -> Double {
        var sum = 0.0
        for name in tasks {
            guard let run = runs.first(where: { $0.task == name }) else { throw EvaluationError.missingTaskResult(task: name) }
            sum += try run.reportedValue()
        }
        return sum / Double(tasks.count)
    }
}
