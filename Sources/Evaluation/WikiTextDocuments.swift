import Foundation

/// lm-eval's `wikitext` task (spec §3a): 62 whole-article documents, each scored with
/// `loglikelihood_rolling` on its detokenised text, then reported as word perplexity, byte perplexity
/// and bits per byte with denominators counted on the *original* page.
public struct WikiTextDocuments: Sendable {
    /// One article.
    public struct Page: Equatable, Sendable {
        /// As EleutherAI/wikitext_document_level stores it (see `pages(fromRows:)`).
        public let original: String
        /// After lm-eval's `wikitext_detokenizer`; this is what gets tokenised and scored.
        public let detokenized: String
        /// `len(re.split(r"\s+", original))`: counts a leading/trailing empty piece too.
        public let words: Int
        /// UTF-8 bytes of `original`.
        public let bytes: Int
    }

    public let pages: [Page]

    public init(_ data: DataDirectory) throws {
        pages = Self.pages(fromRows: try WikiTextRows.load(data)).map { p in
            Page(original: p, detokenized: Self.detokenize(p), words: Self.wordCount(p), bytes: p.utf8.count)
        }
    }

    /// Rebuilds the raw file (`wiki.test.raw`: each empty row written as " \n") and cuts it into
    /// articles at top-level heading lines " = Title = " (one "=" each side); an article is its lines
    /// joined with "\n", from its heading up to the next. The HF loader's exact joining was not
    /// re-read (spec §3a); any difference moves the denominators by well under 1%.
    public static func pages(fromRows rows: [String]) -> [String] {
        let raw = rows.map { $0.isEmpty ? " \n" : $0 }.joined()
        let lines = raw.split(separator: "\n", omittingEmptySubsequences: false)
        var pages: [String] = []
        var current: [Substring] = []
        func flush() {
            let page = current.joined(separator: "\n")
            if !PythonText.strip(page).isEmpty { pages.append(page) }
            current = []
        }
        for line in lines {
            if isTopLevelHeading(line) { flush() }
            current.append(line)
        }
        flush()
        return pages
    }

    static func isTopLevelHeading(_ line: Substring) -> Bool {
        let t = PythonText.strip(line.unicodeScalars)
        return t.hasPrefix("= ") && t.hasSuffix(" =") && !t.hasPrefix("= =")
    }

    /// Σ log-likelihood over pages → the three lm-eval corpus metrics.
    public func metrics(pageLogLikelihoods ll: [Double]) -> (wordPerplexity: Double, bytePerplexity: Double, bitsPerByte: Double) {
        let total = ll.reduce(0, +)
        let words = Double(pages.reduce(0) { $0 + $1.words }), bytes = Double(pages.reduce(0) { $0 + $1.bytes })
        return (exp(-total / words), exp(-total / bytes), -total / bytes / log(2))
    }

    /// `len(re.split(r"\s+", text))`: one more than the number of maximal whitespace runs.
    static func wordCount(_ text: String) -> Int {
        var runs = 0, inRun = false
        for s in text.unicodeScalars {
            let space = PythonText.isSpace(s)
            if space && !inRun { runs += 1 }
            inRun = space
        }
        return runs + 1
    }

    /// lm-eval's `wikitext_detokenizer`, step for step (tasks/wikitext/preprocess_wikitext.py).
    public static func detokenize(_ page: String) -> String {
        var s = PythonText.replace(page, "s '", "s'")
        s = literalDigitQuirk(s)
        for (old, new) in [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" : ", ": "), (" ; ", "; "), (" . ", ". "),
                           (" ! ", "! "), (" ? ", "? "), (" , ", ", ")] {
            s = PythonText.replace(s, old, new)
        }
        for (open, close) in [("(", ")"), ("[", "]"), ("{", "}"), ("\"", "\""), ("'", "'")] as [(Unicode.Scalar, Unicode.Scalar)] {
            s = trimInsidePairs(s, open: UInt8(open.value), close: UInt8(close.value))
        }
        for (old, new) in [("= = = =", "===="), ("= = =", "==="), ("= =", "=="), (" \u{B0} ", "\u{B0}"), (" \n", "\n"),
                           ("\n ", "\n"), (" N ", " 1 "), (" 's", "'s")] {
            s = PythonText.replace(s, old, new)
        }
        return s
    }

    /// `re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", s)` and its [], {}, "", '' siblings: from each
    /// opener to the nearest closer after it, whitespace just inside both ends is removed. The
    /// delimiters are ASCII, so the scan runs on UTF-8 bytes; only the inner span is decoded to trim
    /// Python (Unicode) whitespace.
    static func trimInsidePairs(_ text: String, open: UInt8, close: UInt8) -> String {
        let s = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == open, let j = s[(i + 1)...].firstIndex(of: close) {
                out.append(open)
                out.append(contentsOf: PythonText.strip(String(decoding: s[(i + 1)..<j], as: UTF8.self)).utf8)
                out.append(close)
                i = j + 1
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `re.sub(r"/' [0-9]/", r"/'[0-9]/", s)`: lm-eval meant to join "' 9" but wrote slashes, so it
    /// replaces "/' <digit>/" with the literal text "/'[0-9]/". Kept verbatim for exactness.
    static func literalDigitQuirk(_ text: String) -> String {
        let s = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + 5 <= s.count, s[i] == UInt8(ascii: "/"), s[i + 1] == UInt8(ascii: "'"), s[i + 2] == UInt8(ascii: " "),
               (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s[i + 3]), s[i + 4] == UInt8(ascii: "/") {
                out.append(contentsOf: "/'[0-9]/".utf8)
                i += 5
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// lm-eval's `get_rolling_token_windows(tokens, prefix, maxLength, context_len=1)` followed by
    /// `make_disjoint_window`, as scorer requests: every token is predicted exactly once; the first
    /// window is conditioned on the prefix token (BOS, else EOS), later ones on the tokens before
    /// them, up to `maxLength` tokens of input in all.
    public static func rollingRequests(tokens: [Int], prefixToken: Int, maxLength: Int) -> [LogLikelihoodRequest] {
        guard !tokens.isEmpty else { return [] }
        let first = min(maxLength, tokens.count)
        // The first window reads [prefix] + tokens[..<first-1]; disjoint: context = [prefix].
        var out = [LogLikelihoodRequest(context: [prefixToken], continuation: Array(tokens[0..<first]))]
        var predicted = first
        while predicted < tokens.count {
            let length = min(tokens.count - predicted, maxLength)
            let end = predicted + length
            let input = tokens[(end - maxLength - 1)..<(end - 1)]
            out.append(LogLikelihoodRequest(context: Array(input.prefix(input.count - (length - 1))),
                                            continuation: Array(tokens[(end - length)..<end])))
            predicted = end
        }
        return out
    }
}
