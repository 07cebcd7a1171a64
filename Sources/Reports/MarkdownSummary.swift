import Foundation

/// The human summary of one reproduced table: our numbers beside the paper's, then each paper
/// claim testable on our model and whether it holds here.
public enum MarkdownSummary {
    public static func render(title: String, profile: String, notes: [String], rows: [ResultRow],
                              claims: [ClaimCheck.Outcome]) -> String {
        var s = "# \(title)\n\nProfile: `\(profile)`.\n\n"
        for n in notes { s += n + "\n\n" }
        s += "| row | column | ours | ± stderr | protocol | paper | paper model | paper source |\n"
        s += "|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += "| \(r.row) | \(r.column) | \(fmt(r.value)) | \(fmt(r.stderr)) | \(r.protocolName) | \(fmt(r.paperValue)) | \(r.paperModel ?? "") | \(r.paperSource ?? "") |\n"
        }
        s += "\n## Claims\n\n"
        if claims.isEmpty { s += "No claim of the paper is testable with this table's cells.\n" }
        for o in claims {
            let c = o.claim
            s += "- **\(c.id)** — \(c.statement) (\(c.source)). Here: \(c.better) \(fmt(o.betterValue)) vs \(c.worse) \(fmt(o.worseValue))"
            if let r = o.ratio, let bound = o.bound { s += String(format: ", ratio %.3g (claimed %@)", r, bound) }
            if let p = o.pValue, let t = o.test {
                // A resampling test's p can be exactly 0: no resample reversed the sign.
                s += (p == 0 ? ", p ≈ 0" : String(format: ", p = %.3g", p)) + " (\(t), \(o.pairs) pairs)"
            }
            s += ": **\(o.verdict.rawValue)**" + (o.reason.map { " (\($0))" } ?? "") + ".\n"
        }
        return s
    }

    static func fmt(_ x: Double?) -> String {
        guard let x else { return "–" }
        return abs(x) >= 1000 ? String(format: "%.0f", x) : String(format: "%.4g", x)
    }
}
