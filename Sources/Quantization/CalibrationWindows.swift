import Models
import Tensor

/// GPTQ's calibration sample (`get_c4` in gptq/datautils.py): n windows of L tokens, each from a
/// random document with more than L tokens, starting at a random offset. Upstream redraws a random
/// document until one is long enough; drawing uniformly among the long-enough documents is the
/// same distribution and cannot loop forever. Callers pass a training-side corpus (our C4 sample),
/// never the text they evaluate on.
public enum CalibrationWindows {
    /// `count` windows of `length` tokens drawn with `seed` from `documents` (each tokenised with
    /// the tokenizer's defaults, as GPTQ tokenises each document on its own).
    public static func sample(documents: [String], tokenizer: any Tokenizer, count: Int, length: Int,
                              seed: UInt64) throws -> [[Int]] {
        guard count > 0 else {
            throw QuantizationError.invalidOption(option: "calibrationWindows", value: "\(count)", reason: "must be positive")
        }
        guard length > 1 else {
            throw QuantizationError.invalidOption(option: "calibrationLength", value: "\(length)", reason: "must be at least 2")
        }
        let long = documents.map { tokenizer.encode($0) }.filter { $0.count > length }
        guard !long.isEmpty else {
            throw QuantizationError.invalidOption(option: "calibrationLength", value: "\(length)",
                                                  reason: "no calibration document has more than \(length) tokens (of \(documents.count))")
        }
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            let doc = long[Int(rng.next() % UInt64(long.count))]
            let start = Int(rng.next() % UInt64(doc.count - length))
            return Array(doc[start..<(start + length)])
        }
    }
}
