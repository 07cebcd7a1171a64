import Foundation
import Models
import Quantization

/// A file `qaft export` reads: a deployed model (`DeployedModelFile`, what every method stage and
/// `qaft finetune --deployed` store) or a `qaft quantize` output (`QuantizedModelFile`), with the
/// tokenizer keys it carries.
public enum DeployedSource {
    /// The deployed model in `url` and its `tokenizer.*` keys; any other file (a float or foreign
    /// GGUF, a truncated one) is refused with the reason.
    public static func read(_ url: URL) throws -> (model: DeployedModel, tokenizer: [(String, GGUFValue)]) {
        let f = try GGUFFile(contentsOf: url)
        let tokenizer = f.metadata.filter { $0.key.hasPrefix("tokenizer.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if f.metadata[DeployedModelFile.versionKey] != nil { return (try DeployedModelFile.read(url), tokenizer) }
        if f.metadata["qaft.quantization.version"] != nil { return (try DeployedModel(try QuantizedModelFile.read(url)), tokenizer) }
        throw ExportError.invalidFile(file: url.path, reason: "neither a qaft deployed model (\(DeployedModelFile.versionKey)) nor a "
                                      + "`qaft quantize` output (qaft.quantization.version): nothing says how its weights were deployed")
    }
}
