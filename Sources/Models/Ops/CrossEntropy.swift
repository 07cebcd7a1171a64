import Foundation
import Tensor

/// Cross-entropy of next-token logits against targets, with a loss mask.
///
/// Shapes: logits, dlogits (rows, V); targets (rows), where a negative target masks the row out
/// (it contributes no loss and gets a zero gradient).
/// Forward saves for backward: nothing; the backward recomputes the softmax from the logits,
/// which a chunked head keeps only for the rows it is working on. Rows are independent: a chunk's
/// rows split over the two cores (`SecondCore.halves`).
public enum CrossEntropy {
    /// −log softmax(logits)[target] for each row (0 for masked rows), written to `losses`.
    public static func forward(
        _ logits: UnsafePointer<Float>, rows: Int, vocab V: Int, targets: UnsafePointer<Int32>,
        losses: UnsafeMutablePointer<Float>
    ) {
        SecondCore.shared.halves(rows: rows, width: V) { range in
            for r in range {
                let t = Int(targets[r])
                guard t >= 0 else { losses[r] = 0; continue }
                let row = logits + r * V
                losses[r] = SIMDMath.logSumExp(row, V) - row[t]
            }
        }
    }

    /// dlogits = scale · (softmax(logits) − onehot(target)) for unmasked rows, 0 for masked ones,
    /// overwriting `logits` in place (the head's backward consumes it at once). `scale` is the
    /// weight of one row's loss in the total, e.g. 1 / (unmasked rows of the whole step).
    public static func backward(
        _ logits: UnsafeMutablePointer<Float>, rows: Int, vocab V: Int, targets: UnsafePointer<Int32>, scale: Float
    ) {
        SecondCore.shared.halves(rows: rows, width: V) { range in
            for r in range {
                let row = logits + r * V
                let t = Int(targets[r])
                guard t >= 0 else { row.update(repeating: 0, count: V); continue }
                let m = SIMDMath.max(row, V)
                let total = SIMDMath.expShiftedInPlace(row, V, shift: m)
                SIMDMath.scale(row, V, by: scale / total)
                row[t] -= scale
            }
        }
    }
}
