import ArgumentParser
import Evaluation
import Foundation
import Models

/// `qaft perplexity`: token perplexity of a text file, in qaft's non-overlapping windows or in
/// llama-perplexity's protocol (`LlamaCppPerplexity`), which scores the same tokens llama.cpp does.
struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Token perplexity of a text file (non-overlapping windows, or llama.cpp's llama-perplexity protocol).")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "UTF-8 text file.")
    var file: String

    @Option(help: "Window length in tokens (default: min(2048, the model's context)); with --protocol llama-cpp, llama-perplexity's -c.")
    var window: Int?

    @Option(help: "windows: every token after each window's first scored; llama-cpp: llama-perplexity's chunks, only each chunk's second half scored.")
    var `protocol`: ScoringProtocol = .windows

    @OptionGroup var precisionOptions: PrecisionOptions

    enum ScoringProtocol: String, ExpressibleByArgument, CaseIterable {
        case windows
        case llamaCpp = "llama-cpp"
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(file): file not found or unreadable")
        }
        let text = String(decoding: data, as: UTF8.self)
        let (model, tok, config) = try modelOptions.loadModel(precision: precisionOptions.precision)
        let tokens = tok.encode(text)
        guard tokens.count > 1 else { throw ValidationError("\(file): fewer than two tokens of text") }
        let bos = tok.addsBOSByDefault ? tok.bosToken : nil
        let w = window ?? min(2048, config.contextLength)
        let minimum = `protocol` == .llamaCpp ? 4 : (bos == nil ? 2 : 3)
        guard w >= minimum, w <= config.contextLength else {
            throw ValidationError("--window \(w) must be in \(minimum)...\(config.contextLength)")
        }
        let progress = Progress("perplexity", quiet: modelOptions.quiet)
        let report: (Int, Int) -> Void = { done, total in progress.update(done, of: total, unit: "windows") }
        let r: WindowedNLL, described: String
        switch `protocol` {
        case .windows:
            r = try precisionOptions.run { try model.windowedNLL(tokens, window: w, prefix: [bos].compactMap { $0 }, progress: report) }
            described = "qaft windows: \(r.windows) windows of ≤\(w) tokens, every token after a window's first scored"
                + (bos == nil ? "" : ", BOS-prefixed")
        case .llamaCpp:
            // llama.cpp tokenises the text with the vocabulary's BOS in front, then also puts BOS in each chunk's first slot.
            let p = LlamaCppPerplexity(context: w), all = [bos].compactMap { $0 } + tokens
            r = try precisionOptions.run { try p.evaluate(model: model, tokens: all, bos: bos, progress: report) }
            described = p.describe(chunks: r.windows, bos: bos)
        }
        print(String(format: "perplexity %.4f  (mean NLL %.5f over %d predicted tokens of %d; %@)",
                     r.perplexity, r.meanNLL, r.predicted, tokens.count, described))
    }
}
