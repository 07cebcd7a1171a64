import ArgumentParser
import Foundation
import Models

/// `qaft perplexity`: token perplexity of a text file in non-overlapping windows.
struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Token perplexity of a text file (non-overlapping windows).")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "UTF-8 text file.")
    var file: String

    @Option(help: "Window length in tokens (default: min(2048, the model's context)).")
    var window: Int?

    @OptionGroup var precisionOptions: PrecisionOptions

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(file): file not found or unreadable")
        }
        let text = String(decoding: data, as: UTF8.self)
        let (model, tok, config) = try modelOptions.loadModel()
        let tokens = tok.encode(text)
        guard tokens.count > 1 else { throw ValidationError("\(file): fewer than two tokens of text") }
        let prefix = tok.addsBOSByDefault ? [tok.bosToken].compactMap { $0 } : []
        let w = window ?? min(2048, config.contextLength)
        guard w > prefix.count + 1, w <= config.contextLength else {
            throw ValidationError("--window \(w) must be in \(prefix.count + 2)...\(config.contextLength)")
        }
        let progress = Progress("perplexity", quiet: modelOptions.quiet)
        let r = try precisionOptions.run {
            try model.windowedNLL(tokens, window: w, prefix: prefix) { done, total in progress.update(done, of: total, unit: "windows") }
        }
        print(String(format: "perplexity %.4f  (mean NLL %.5f over %d predicted tokens, %d windows of ≤%d tokens%@)",
                     r.perplexity, r.meanNLL, r.predicted, r.windows, w, prefix.isEmpty ? "" : ", BOS-prefixed"))
    }
}
