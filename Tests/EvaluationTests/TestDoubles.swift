import Models
@testable import Evaluation

/// Greedy longest-match tokenizer over a fixed vocabulary; unknown code points map to
/// 1000 + scalar value. Enough to exercise lm-eval's context/continuation split, where tokens can
/// straddle the boundary.
struct VocabularyTokenizer: Tokenizer {
    let pieces: [[Unicode.Scalar]]
    let bosToken: Int?
    let eosToken: Int?
    var vocabSize: Int { 1000 + 0x110000 }
    var addsBOSByDefault: Bool { bosToken != nil }

    init(_ vocabulary: [String], bos: Int? = 1, eos: Int? = 2) {
        pieces = vocabulary.map { Array($0.unicodeScalars) }
        bosToken = bos
        eosToken = eos
    }

    func encode(_ text: String) -> [Int] {
        let s = Array(text.unicodeScalars)
        var out: [Int] = [], i = 0
        while i < s.count {
            var best: (id: Int, length: Int)?
            for (id, p) in pieces.enumerated() where p.count > (best?.length ?? 0) && i + p.count <= s.count && Array(s[i..<(i + p.count)]) == p {
                best = (10 + id, p.count)
            }
            if let best { out.append(best.id); i += best.length } else { out.append(1000 + Int(s[i].value)); i += 1 }
        }
        return out
    }

    func bytes(of token: Int) -> [UInt8] {
        token >= 1000 ? Array(String(Unicode.Scalar(UInt32(token - 1000))!).utf8) : token >= 10 ? Array(String(String.UnicodeScalarView(pieces[token - 10])).utf8) : []
    }
}

/// A deterministic stand-in for a model: the log-likelihood is −(Σ continuation ids mod 97)/10, and
/// every batch it receives is recorded so tests can check the order.
final class RecordingScorer: LogLikelihoodScorer {
    var received: [LogLikelihoodRequest] = []
    var calls = 0

    func score(_ requests: [LogLikelihoodRequest]) throws -> [LogLikelihoodResult] {
        calls += 1
        received += requests
        return requests.map { r in
            LogLikelihoodResult(logLikelihood: -Double(r.continuation.reduce(0) { $0 + $1 % 97 }) / 10, isGreedy: r.continuation.count == 1)
        }
    }
}
