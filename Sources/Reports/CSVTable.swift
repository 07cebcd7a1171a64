import Foundation

/// Result tables as RFC 4180 CSV, in two shapes: long (one line per cell, every attribute a
/// column; what scripts want) and wide (one line per method row, one column group per evaluation;
/// what people read). Numbers use Swift's shortest round-trip spelling; an absent value is empty.
public enum CSVTable {
    public static let longHeader = ["table", "profile", "row", "column", "metric", "protocol", "value", "stderr",
                                    "paper_model", "paper_value", "paper_source"]

    public static func long(_ rows: [ResultRow]) -> String {
        var lines = [line(longHeader)]
        for r in rows {
            lines.append(line([r.table, r.profile, r.row, r.column, r.metric, r.protocolName, number(r.value), number(r.stderr),
                               r.paperModel ?? "", number(r.paperValue), r.paperSource ?? ""]))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Rows and columns keep their first-appearance order.
    public static func wide(_ rows: [ResultRow]) -> String {
        let rowLabels = ordered(rows.map(\.row)), columns = ordered(rows.map(\.column))
        var header = ["table", "profile", "row"]
        for c in columns { header += [c, c + " stderr", c + " protocol", c + " paper"] }
        var lines = [line(header)]
        for label in rowLabels {
            let mine = rows.filter { $0.row == label }
            var fields = [mine.first?.table ?? "", mine.first?.profile ?? "", label]
            for c in columns {
                let cell = mine.first { $0.column == c }
                fields += [number(cell?.value), number(cell?.stderr), cell?.protocolName ?? "", number(cell?.paperValue)]
            }
            lines.append(line(fields))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Per-step training curves in long form: one line per (row, step).
    public static func curves(table: String, profile: String, metric: String, _ curves: [(row: String, steps: [Int], values: [Double])]) -> String {
        var lines = [line(["table", "profile", "row", "step", metric])]
        for c in curves {
            for (step, v) in zip(c.steps, c.values) { lines.append(line([table, profile, c.row, String(step), number(v)])) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func ordered(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }

    static func number(_ x: Double?) -> String { x.map { $0.description } ?? "" }

    /// Quotes a field when it holds a comma, quote or line break (RFC 4180 §2.6–2.7).
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") }
}
