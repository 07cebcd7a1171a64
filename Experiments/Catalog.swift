import Pipeline
import Tensor

/// Every reproducible target, by the name `qaft reproduce` takes.
public enum Catalog {
    /// How to add a target: write `Experiments/<Name>.swift` with a `manifest(_ profile:)` function
    /// and add one line here.
    public static let targets: [String: @Sendable (Profile) -> Manifest] = [
        "tinytable": { TinyTable.manifest($0) },
        "budget": { Budget.manifest($0) },
        "tinymethods": { TinyMethods.manifest($0) },
        "table2": { Table2.manifest($0) },
        "table3": { Table3.manifest($0) },
        "lota-table1": { LotaTable1.manifest($0) },
        "lota-table2": { LotaTable2.manifest($0) },
        "lota-gsm8k": { LotaGSM8K.manifest($0) },
        "qeft-figure1": { QeftFigure1.manifest($0) },
        "l4q-figure1": { L4QFigure1.manifest($0) },
        "pretrained": { Pretrained.manifest($0) },
        "l4q-table1": { L4QTable1.manifest($0) },
        "l4q-table4": { L4QTable4.manifest($0) },
        "l4q-table5": { L4QTable5.manifest($0) },
        "l4q-table7": { L4QTable7.manifest($0) },
        "l4q-table12": { L4QTable12.manifest($0) },
        "l4q-table13": { L4QTable13.manifest($0) },
        "l4q-table14": { L4QTable14.manifest($0) },
        "qeft-table6": { QeftTable6.manifest($0) },
        "qeft-table7": { QeftTable7.manifest($0) },
    ]

    public static var names: [String] { targets.keys.sorted() }

    /// The manifests of `target` (`all`: every target) under `profile`, run on `model` instead of
    /// the profile's model when given (a user's GGUF or Hugging Face folder; its content hash is in
    /// every stage key, so its rows never mix with another model's).
    /// `fineTuningPrecision` and `scoringPrecision`, when given, replace the profile's
    /// (`Base.fineTuningPrecision`, `Base.scoringPrecision`) in every fine-tuning and scoring stage.
    public static func manifests(_ target: String, profile: Profile, model: ModelSource? = nil,
                                 fineTuningPrecision: ComputePrecision? = nil, scoringPrecision: ComputePrecision? = nil) throws -> [Manifest] {
        var out: [Manifest]
        if target == "all" {
            out = names.map { targets[$0]!(profile) }
        } else {
            guard let make = targets[target] else { throw PipelineError.unknownTarget(target, known: names + ["all"]) }
            out = [make(profile)]
        }
        if let model { for i in out.indices { out[i].model = model } }
        for i in out.indices {
            if let p = fineTuningPrecision {
                for r in out[i].rows.indices where out[i].rows[r].fineTuning != nil {
                    out[i].rows[r].fineTuning!.parameters["precision"] = .string(p.rawValue)
                }
            }
            if let p = scoringPrecision {
                for c in out[i].evaluations.indices where out[i].evaluations[c].parameters["precision"] != nil {
                    out[i].evaluations[c].parameters["precision"] = .string(p.rawValue)
                    var name = out[i].evaluations[c].protocolName
                    if name.hasSuffix(Base.scoringNote(.bf16)) { name.removeLast(Base.scoringNote(.bf16).count) }
                    out[i].evaluations[c].protocolName = name + Base.scoringNote(p)
                }
            }
        }
        return out
    }
}
