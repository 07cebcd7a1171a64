import ArgumentParser
import Foundation
import Models
import Quantization

/// `qaft generate`: greedy or sampled continuation of a prompt, streamed to stdout.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Continue a prompt (greedy by default).")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "Prompt text (empty: start from BOS).")
    var prompt: String = ""

    @Option(name: .shortAndLong, help: "Tokens to generate.")
    var tokens = 64

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(help: "Top-k cut-off (0 = none).")
    var topK = 0

    @Option(help: "Nucleus (top-p) cut-off.")
    var topP: Float = 1

    @Option(help: "Sampling seed.")
    var seed: UInt64 = 0

    @Flag(help: "Run the output head on packed Q8_0 codes, as llama.cpp's 4-bit files deploy it (lossless for SmolLM2, whose head is stored as Q8_0).")
    var q8Head = false

    @Option(help: "Activations of the packed layers' one-token products: int8 (per weight group, as llama.cpp rounds them; faster) or float32 (the deployed model's exact products, for comparing runtimes).")
    var decodeActivations: ActivationPrecision = .int8

    @Flag(help: "Wrap the prompt in the ChatML user/assistant template (instruct models).")
    var chat = false

    @Option(help: "Also print to stderr, per generated token, the K most likely tokens and their logits (K ≥ 2; 0 = off): where two runtimes' greedy texts part, the margin says whether it was a near-tie.")
    var showTop = 0

    func validate() throws {
        if showTop == 1 || showTop < 0 { throw ValidationError("--show-top \(showTop): give 0 (off) or K ≥ 2") }
    }

    func run() throws {
        let (model, tok, _) = try modelOptions.loadModel()
        if q8Head { try model.quantizeHead() }
        let text = chat ? "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n" : prompt
        var ids = tok.encode(text, addBOS: tok.addsBOSByDefault)
        if ids.isEmpty, let bos = tok.bosToken { ids = [bos] }
        guard !ids.isEmpty else { throw ValidationError("the prompt is empty and the tokenizer has no BOS token") }
        let started = Date()
        // Streams the decoded text of all tokens generated so far, printing what it adds: decoding
        // each token alone would lose the spaces SentencePiece pieces carry, and only whole UTF-8
        // characters are printed (a token may end inside a multi-byte sequence).
        var generated: [Int] = [], shown = 0
        func flush(final: Bool) {
            let text = tok.decode(generated)
            guard final || !text.hasSuffix("\u{FFFD}") else { return }
            let bytes = Array(text.utf8)
            if bytes.count > shown { FileHandle.standardOutput.write(Data(bytes[shown...])) }
            shown = max(shown, bytes.count)
        }
        // Per step: where its token's text starts (in bytes of the generated text) and the top K.
        func showCandidates(_ logits: UnsafeBufferPointer<Float>) {
            let top = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }.prefix(showTop)
            let best = logits[top.first!]
            let candidates = top.map { i in
                "\(i) \(tok.decode([i]).debugDescription) " + String(format: i == top.first! ? "%.4f" : "%+.4f", i == top.first! ? best : logits[i] - best)
            }
            FileHandle.standardError.write(Data("top step \(generated.count) byte \(tok.decode(generated).utf8.count): \(candidates.joined(separator: " | "))\n".utf8))
        }
        let produced = try Generator(model: model, decodeActivations: decodeActivations).generate(
            prompt: ids, maxNewTokens: tokens,
            options: SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed),
            stop: Set([tok.eosToken].compactMap { $0 }),
            inspect: showTop > 0 ? showCandidates : nil
        ) { t in
            generated.append(t)
            flush(final: false)
            return true
        }
        flush(final: true)
        print()
        if !modelOptions.quiet {
            let dt = Date().timeIntervalSince(started)
            Progress.note(String(format: "%d tokens in %.2fs (%.1f tokens/s incl. prefill of %d)", produced.count, dt,
                                 Double(produced.count) / dt, ids.count))
        }
    }
}

extension ActivationPrecision: ExpressibleByArgument {}
