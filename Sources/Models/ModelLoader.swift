import Foundation

/// Opens any supported model — a GGUF file, a Hugging Face folder, or a llama2.c checkpoint —
/// into float32 weights plus its tokenizer. The format is recognised from what `url` is, never
/// from a flag: a directory is a Hugging Face folder, a file starting with "GGUF" is GGUF, and any
/// other file is a llama2.c checkpoint (which has no magic; its header is then validated against
/// the file size).
public enum ModelLoader {
    public enum Format: Equatable, Sendable {
        case gguf
        case huggingFace
        case llama2c
    }

    /// Which format `url` holds.
    public static func format(of url: URL) throws -> Format {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelFormatError.fileNotFound(file: url.path)
        }
        if isDirectory.boolValue { return .huggingFace }
        let file = try MappedFile(url)
        if let magic = try? file.slice(0, 4, ""), Array(magic) == Array("GGUF".utf8) { return .gguf }
        return .llama2c
    }

    /// The model at `url` with its tokenizer: the format's own (GGUF metadata, the folder's
    /// tokenizer.json, or `tok<vocab>.bin`/`tokenizer.bin` beside a llama2.c checkpoint) unless
    /// `tokenizer` names another file (a tokenizer.json, or a llama2.c tokenizer .bin).
    public static func load(_ url: URL, tokenizer: URL? = nil) throws -> LoadedModel {
        let weights: LlamaWeights
        let tok: any Tokenizer
        switch try format(of: url) {
        case .gguf:
            let gguf = try GGUFFile(contentsOf: url)
            weights = try gguf.llamaWeights()
            tok = try tokenizer.map { try external($0, vocabSize: weights.config.vocabSize) } ?? gguf.tokenizer()
        case .huggingFace:
            weights = try HuggingFaceLlama.weights(folder: url)
            tok = try huggingFaceTokenizer(url, override: tokenizer, vocabSize: weights.config.vocabSize)
        case .llama2c:
            weights = try Llama2C.weights(contentsOf: url)
            tok = try llama2cTokenizer(url, override: tokenizer, vocabSize: weights.config.vocabSize)
        }
        try checkVocabulary(tok, modelVocab: weights.config.vocabSize, source: tokenizer ?? url)
        return LoadedModel(weights: weights, tokenizer: tok, source: url)
    }

    /// Only the shape of the model at `url`, reading no weights.
    public static func config(of url: URL) throws -> LlamaConfig {
        switch try format(of: url) {
        case .gguf: return try GGUFFile(contentsOf: url).llamaConfig()
        case .huggingFace: return try HuggingFaceLlama.config(folder: url)
        case .llama2c: return try Llama2C.config(contentsOf: url)
        }
    }

    /// Only the tokenizer of the model at `url` (as `load` would pick it), reading no weights.
    public static func loadTokenizer(_ url: URL, tokenizer: URL? = nil) throws -> any Tokenizer {
        let tok: any Tokenizer
        let vocab: Int
        switch try format(of: url) {
        case .gguf:
            let gguf = try GGUFFile(contentsOf: url)
            vocab = try gguf.llamaConfig().vocabSize
            tok = try tokenizer.map { try external($0, vocabSize: vocab) } ?? gguf.tokenizer()
        case .huggingFace:
            vocab = try HuggingFaceLlama.config(folder: url).vocabSize
            tok = try huggingFaceTokenizer(url, override: tokenizer, vocabSize: vocab)
        case .llama2c:
            vocab = try Llama2C.config(contentsOf: url).vocabSize
            tok = try llama2cTokenizer(url, override: tokenizer, vocabSize: vocab)
        }
        try checkVocabulary(tok, modelVocab: vocab, source: tokenizer ?? url)
        return tok
    }

    /// A tokenizer file named by the caller, by extension: a tokenizer.json, a GGUF's tokenizer
    /// metadata, else llama2.c's format.
    private static func external(_ url: URL, vocabSize: Int) throws -> any Tokenizer {
        switch url.pathExtension {
        case "json": return try BPETokenizer(tokenizerJSON: url)
        case "gguf": return try GGUFFile(contentsOf: url).tokenizer()
        default: return try Llama2CTokenizer(contentsOf: url, vocabSize: vocabSize)
        }
    }

    private static func huggingFaceTokenizer(_ folder: URL, override: URL?, vocabSize: Int) throws -> any Tokenizer {
        if let override { return try external(override, vocabSize: vocabSize) }
        return try BPETokenizer(tokenizerJSON: folder.appendingPathComponent(HuggingFaceLlama.tokenizerFile))
    }

    /// llama2.c keeps the tokenizer beside the checkpoint: `tok<vocab>.bin` for custom vocabularies
    /// (e.g. tok512.bin), `tokenizer.bin` for the default 32000-token one.
    private static func llama2cTokenizer(_ model: URL, override: URL?, vocabSize: Int) throws -> any Tokenizer {
        if let override { return try external(override, vocabSize: vocabSize) }
        let folder = model.deletingLastPathComponent()
        let candidates = ["tok\(vocabSize).bin", "tokenizer.bin"].map { folder.appendingPathComponent($0) }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw ModelFormatError.fileNotFound(file: candidates.map(\.path).joined(separator: " or "))
        }
        return try Llama2CTokenizer(contentsOf: found, vocabSize: vocabSize)
    }

    /// A token id beyond the embedding rows would index past the weights in the forward pass.
    private static func checkVocabulary(_ tok: any Tokenizer, modelVocab: Int, source: URL) throws {
        if tok.vocabSize > modelVocab {
            throw ModelFormatError.invalidConfig(file: source.path, field: "vocabulary",
                                                 reason: "tokenizer has \(tok.vocabSize) tokens but the model embeds only \(modelVocab)")
        }
    }
}
