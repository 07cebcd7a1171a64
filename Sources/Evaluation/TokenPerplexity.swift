import Foundation

/// GPTQ / OWQ / QEFT-style token perplexity (spec §3b), the "Wiki2 PPL" / "C4 PPL" of quantization
/// papers: the corpus is tokenised once, cut into ⌊n/seqlen⌋ non-overlapping windows (the tail is
/// dropped, no extra BOS per window), each window's mean cross-entropy over its seqlen − 1
/// predictions is multiplied by seqlen, and PPL = exp(Σ nllᵢ / (windows · seqlen)) — normalised by
/// seqlen although only seqlen − 1 tokens are predicted, a quirk kept to match published tables.
public struct TokenPerplexity: Codable, Equatable, Sendable {
    /// How the number is labelled in reports, e.g. "wikitext2 (GPTQ, seqlen 2048)".
    public let label: String
    /// The exact string to tokenise (with the tokenizer's default BOS setting).
    public let text: String
    public let seqlen: Int
    /// GPTQ's C4 keeps only the first 256·seqlen tokens; nil = all full windows.
    public let maxWindows: Int?

    /// WikiText-2 raw test: all 4,358 rows (empty ones included) joined with "\n\n".
    public static func wikiText2(_ data: DataDirectory, seqlen: Int = 2048) throws -> TokenPerplexity {
        let rows = try WikiTextRows.load(data)
        return TokenPerplexity(label: "wikitext2 (GPTQ, seqlen \(seqlen))", text: rows.joined(separator: "\n\n"),
                               seqlen: seqlen, maxWindows: nil)
    }

    /// Our 300-document C4 sample joined with single spaces as GPTQ joins its 1,100 validation
    /// documents. It is NOT the GPTQ C4 set (that shard is not vendored), hence the distinct label.
    public static func c4Sample(_ data: DataDirectory, seqlen: Int = 2048) throws -> TokenPerplexity {
        struct Doc: Decodable { let text: String }
        let file = "c4/c4_demo.jsonl"
        let docs = try JSONLines.decode(Doc.self, from: data.bytes(file), file: file)
        return TokenPerplexity(label: "C4 sample (300 docs; not GPTQ c4), seqlen \(seqlen)",
                               text: docs.map(\.text).joined(separator: " "), seqlen: seqlen, maxWindows: 256)
    }

    /// Token ranges of the scored windows for a corpus of `tokenCount` tokens.
    public func windows(tokenCount: Int) -> [Range<Int>] {
        var n = tokenCount / seqlen
        if let maxWindows { n = min(n, maxWindows) }
        return (0..<n).map { ($0 * seqlen)..<(($0 + 1) * seqlen) }
    }

    /// PPL from each window's mean next-token cross-entropy (nats, over its seqlen − 1 predictions).
    public func perplexity(windowMeanNLL: [Double]) -> Double {
        let total = windowMeanNLL.reduce(0) { $0 + $1 * Double(seqlen) }
        return exp(total / Double(windowMeanNLL.count * seqlen))
    }
}

