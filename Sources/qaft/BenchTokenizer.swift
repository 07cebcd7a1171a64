import Evaluation
import Foundation
import Models

extension Bench {
    /// Encoding throughput of the tokenizers of Tests/Fixtures/tokenizers on MMLU test questions
    /// (zero-shot prompts, one `encode` per question as evaluation does), as ratios to SmolLM2's
    /// tokenizer measured in the same run. The Split-regex (Llama 3) and SentencePiece (Mistral)
    /// paths are required to reach 0.5× of it. Llama 3 is also run with its regex wrapped in a
    /// group, which no hand-written scanner recognises, to show what the ICU fallback costs.
    func tokenizerSection(questions: Int = 2000) throws {
        print("\n## tokenizers: encode \(questions) MMLU test questions (ratio to SmolLM2's tokenizer; required ≥ 0.5×)")
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let data = try DataDirectory.vendored(repositoryRoot: root)
        let texts = try MMLU(numFewShot: 0).documents(from: data).prefix(questions).map { $0.requests[0].context }
        let bytes = Double(texts.reduce(0) { $0 + $1.utf8.count })
        let fixtures = root.appendingPathComponent("Tests/Fixtures/tokenizers")
        let llama3 = fixtures.appendingPathComponent("llama3/tokenizer.json")

        let tokenizers: [(String, any Tokenizer)] = [
            ("SmolLM2 (GGUF smollm: digits + GPT-2 scanner)", try ModelLoader.loadTokenizer(URL(fileURLWithPath: try ModelOptions.parse([]).model))),
            ("Llama 3 (tokenizer.json: Split regex scanner)", try BPETokenizer(tokenizerJSON: llama3)),
            ("Mistral (tokenizer.json: SentencePiece BPE)", try BPETokenizer(tokenizerJSON: fixtures.appendingPathComponent("mistral/tokenizer.json"))),
            ("Mistral (GGUF llama: SentencePiece BPE)", try GGUFFile(contentsOf: fixtures.appendingPathComponent("mistral/tokenizer.gguf")).tokenizer()),
            ("Llama 3, regex run by ICU (fallback)", try icuLlama3(llama3)),
        ]
        var reference = 0.0
        for (name, tok) in tokenizers {
            var tokens = 0
            let t = median {
                tokens = 0
                for text in texts { tokens += tok.encode(text).count }
            }
            let rate = bytes / t / 1e6
            if reference == 0 { reference = rate }
            print("  " + name.padding(toLength: 48, withPad: " ", startingAt: 0)
                + String(format: "%6.1f MB/s  %8.0f questions/s  %5.2f×  (%d tokens)", rate, Double(texts.count) / t, rate / reference, tokens))
        }
    }

    /// Llama 3's tokenizer.json with its Split regex wrapped in `(?:...)`: the same splits, but not
    /// character for character a pattern with a hand-written scanner.
    private func icuLlama3(_ url: URL) throws -> BPETokenizer {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var pre = json["pre_tokenizer"] as! [String: Any]
        var steps = pre["pretokenizers"] as! [[String: Any]]
        let pattern = (steps[0]["pattern"] as! [String: String])["Regex"]!
        steps[0]["pattern"] = ["Regex": "(?:\(pattern))"]
        pre["pretokenizers"] = steps
        json["pre_tokenizer"] = pre
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-bench-icu-llama3")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: copy)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try BPETokenizer(tokenizerJSON: copy)
    }
}
