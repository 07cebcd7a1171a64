import Evaluation
import Foundation
import Models
import Quantization

/// Calibration token windows drawn from a JSON Lines corpus of `{"text": ...}` documents (our C4
/// sample, never an evaluation text), as every calibrating stage and command draws them.
public enum CalibrationText {
    struct Document: Decodable { let text: String }

    /// `count` windows of `length` tokens drawn with `seed` (see `CalibrationWindows.sample`).
    public static func windows(_ url: URL, tokenizer: any Tokenizer, count: Int, length: Int, seed: UInt64) throws -> [[Int]] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PipelineError.artifact(path: url.path, reason: "calibration text unreadable")
        }
        let documents = try JSONLines.decode(Document.self, from: Array(data), file: url.path)
        return try CalibrationWindows.sample(documents: documents.map(\.text), tokenizer: tokenizer, count: count,
                                             length: length, seed: seed)
    }
}
