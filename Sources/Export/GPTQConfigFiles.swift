import Foundation

/// The JSON and tokenizer files of a GPTQ folder.
extension GPTQFolder {
    /// Writes `object` as pretty-printed JSON with sorted keys (the same input, the same bytes).
    static func writeJSON(_ object: [String: Any], to url: URL) throws {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(UInt8(ascii: "\n"))
        try data.write(to: url)
    }

    /// Copies the source folder's config.json with `quantization_config` (and the float dtype and
    /// tying actually written) into `folder`, and every tokenizer file it has.
    static func copyHuggingFace(_ source: URL, into folder: URL, quantization: [String: Any], floatType: FloatType, tied: Bool) throws {
        let configURL = source.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ExportError.invalidFile(file: configURL.path, reason: "cannot be read")
        }
        guard var config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ExportError.invalidFile(file: configURL.path, reason: "is not a JSON object")
        }
        config["quantization_config"] = quantization
        // transformers 5 reads `dtype`, 4.x `torch_dtype`: both say what the float tensors are.
        config["dtype"] = floatType.rawValue
        config["torch_dtype"] = floatType.rawValue
        config["tie_word_embeddings"] = tied
        try writeJSON(config, to: folder.appendingPathComponent("config.json"))
        let present = tokenizerFiles.filter { FileManager.default.fileExists(atPath: source.appendingPathComponent($0).path) }
        guard present.contains("tokenizer.json") || present.contains("tokenizer.model") else {
            throw ExportError.invalidFile(file: source.path, reason: "has no tokenizer.json or tokenizer.model to copy")
        }
        for name in present {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }
}
