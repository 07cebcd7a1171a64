import Foundation

/// What the report stage needs to know about a manifest, carried as its parameters (so editing
/// a paper number or a claim recomputes the report and nothing else). Each part is canonical
/// JSON (sorted keys), so `qaft why` can name the part that changed.
public struct ReportLayout: Codable, Equatable, Sendable {
    struct Row: Codable, Equatable {
        var label: String
        var paperRow: String?
    }

    struct Column: Codable, Equatable {
        var label: String
        var paperColumn: String?
        var metric: String
        var lowerIsBetter: Bool
        var protocolName: String
    }

    var id: String
    var title: String
    var name: String
    var profile: String
    var rows: [Row]
    var columns: [Column]
    var paperModels: [String]
    var paperNumbers: [PaperNumber]
    var claims: [ClaimSpec]
    var figureColumns: [String]
    var scatters: [ScatterSpec]
    var notes: [String]

    static func inputName(row: String, column: String) -> String { "cell:\(row)|\(column)" }
    /// The report's input holding the stage that made a quantized or fine-tuned row's model (its
    /// loss curve, decode speed, training time).
    static func modelInputName(row: String) -> String { "model:\(row)" }

    /// Checks that claims and the figure name existing cells.
    init(_ m: Manifest) throws {
        id = m.id
        title = m.title
        name = m.outputName
        profile = m.profile.rawValue
        rows = m.rows.map { Row(label: $0.label, paperRow: $0.paperRow) }
        columns = m.evaluations.map {
            Column(label: $0.label, paperColumn: $0.paperColumn, metric: $0.metric, lowerIsBetter: $0.lowerIsBetter, protocolName: $0.protocolName)
        }
        paperModels = m.paperModels
        paperNumbers = m.paperNumbers
        claims = m.claims
        figureColumns = m.figureColumns
        scatters = m.scatters
        notes = m.notes
        let rowLabels = Set(rows.map(\.label)), columnLabels = Set(columns.map(\.label))
        func bad(_ field: String, _ value: String, _ reason: String) -> PipelineError {
            .manifest(manifest: m.id, source: m.source, field: field, value: "\"\(value)\"", reason: reason)
        }
        for (i, c) in claims.enumerated() {
            for (side, cell) in [("better", c.better), ("worse", c.worse)] {
                if !rowLabels.contains(cell.row) { throw bad("claims[\(i)].\(side).row", cell.row, "no such row") }
                if !columnLabels.contains(cell.column) { throw bad("claims[\(i)].\(side).column", cell.column, "no such evaluation") }
            }
            if let r = c.ratio {
                if r.atMost == nil && r.atLeast == nil { throw bad("claims[\(i)].ratio", c.id, "needs atMost or atLeast") }
                continue
            }
            let lower = columns.first { $0.label == c.better.column }!.lowerIsBetter
            if columns.first(where: { $0.label == c.worse.column })!.lowerIsBetter != lower {
                throw bad("claims[\(i)].worse.column", c.worse.column, "compares metrics of opposite directions")
            }
            for cell in [c.better, c.worse] where m.evaluations.first(where: { $0.label == cell.column })!.kind == EvaluationSpec.modelMetricKind {
                throw bad("claims[\(i)]", cell.column, "a model metric has one number per row, no items to pair: state the claim with ClaimSpec.ratio")
            }
        }
        for (i, f) in figureColumns.enumerated() where !columnLabels.contains(f) {
            throw bad("figureColumns[\(i)]", f, "no such evaluation")
        }
        for (i, s) in scatters.enumerated() {
            for (axis, a) in [("x", s.x), ("y", s.y)] {
                if case .column(let c) = a.measure, !columnLabels.contains(c) { throw bad("scatters[\(i)].\(axis)", c, "no such evaluation") }
            }
            if case .column(let c)? = s.companion?.measure, !columnLabels.contains(c) { throw bad("scatters[\(i)].companion", c, "no such evaluation") }
        }
    }

    private enum Part: String, CaseIterable, CodingKey { case meta, rows, columns, paper, claims, figure, scatter, notes }

    /// The parts as a manifest would give them (the planner hands them to the report stage).
    func parameters() throws -> [String: Value] {
        var p: [String: Value] = [:]
        for part in Part.allCases { p[part.rawValue] = .string(try json(part)) }
        return p
    }

    /// Encoded as its parts, each a JSON string, so a key component per part.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Part.self)
        for part in Part.allCases { try c.encode(try json(part), forKey: part) }
    }

    private func json(_ part: Part) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let data: Data
        switch part {
        case .meta: data = try e.encode([id, title, name, profile])
        case .rows: data = try e.encode(rows)
        case .columns: data = try e.encode(columns)
        case .paper: data = try e.encode(PaperPart(models: paperModels, numbers: paperNumbers))
        case .claims: data = try e.encode(claims)
        case .figure: data = try e.encode(figureColumns)
        case .scatter: data = try e.encode(scatters)
        case .notes: data = try e.encode(notes)
        }
        return String(decoding: data, as: UTF8.self)
    }

    private struct PaperPart: Codable {
        var models: [String]
        var numbers: [PaperNumber]
    }

    /// Reads a layout back from its parts.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Part.self)
        func part<T: Decodable>(_ name: Part, _ type: T.Type) throws -> T {
            let s = try c.decode(String.self, forKey: name)
            do { return try JSONDecoder().decode(T.self, from: Data(s.utf8)) } catch {
                throw StageParameterError(field: name.rawValue, value: String(s.prefix(60)), reason: "not a valid layout part: \(error)")
            }
        }
        let meta = try part(.meta, [String].self)
        guard meta.count == 4 else { throw StageParameterError(field: "meta", value: meta.description, reason: "expected 4 entries") }
        (id, title, name, profile) = (meta[0], meta[1], meta[2], meta[3])
        rows = try part(.rows, [Row].self)
        columns = try part(.columns, [Column].self)
        let paper = try part(.paper, PaperPart.self)
        (paperModels, paperNumbers) = (paper.models, paper.numbers)
        claims = try part(.claims, [ClaimSpec].self)
        figureColumns = try part(.figure, [String].self)
        scatters = try part(.scatter, [ScatterSpec].self)
        notes = try part(.notes, [String].self)
    }
}
