import Evaluation
import Foundation
import Reports

/// Gathers every cell of a manifest into the report files: long and wide CSV and the Markdown
/// summary under `Results/`, the gnuplot script and its PNG under `Figures/` (all inside the
/// artifact; `qaft reproduce` copies them into the repository). Claims are judged with a paired
/// bootstrap over the cells' per-item series, seeded by the manifest seed.
public struct ReportStage: Stage {
    public static let kindName = "report"
    public var kind: String { Self.kindName }
    public var version: String { "1" }
    public var inputNames: [String] { [] }
    public var fileNames: [String] { [] }
    public var isStochastic: Bool { true }

    public init() {}

    public func check(_ p: Parameters) throws {
        try p.allowOnly(ReportLayout.parameterNames)
        _ = try ReportLayout(p)
    }

    /// Evaluation's paired bootstrap behind the Reports protocol.
    struct Bootstrap: PairedTest {
        let seed: UInt64
        let resamples = 2000
        var name: String { "paired bootstrap, \(resamples) resamples" }
        func compare(_ a: [Double], _ b: [Double]) throws -> (delta: Double, pValue: Double) {
            let r = try PairedComparison.pairedBootstrap(a, b, resamples: resamples, seed: seed)
            return (r.observedDelta, r.pValue)
        }
    }

    public func run(_ context: StageContext) throws -> StageOutput {
        let layout = try ReportLayout(context.parameters)
        var rows: [ResultRow] = []
        var measurements: [String: CellScores] = [:]
        for r in layout.rows {
            for c in layout.columns {
                let name = ReportLayout.inputName(row: r.label, column: c.label)
                let out = try context.input(name).output
                let value = out.metrics[c.metric]
                let paper = layout.paperModels.lazy.compactMap { model in
                    layout.paperNumbers.first { $0.model == model && $0.row == r.paperRow && $0.column == c.paperColumn }
                }.first
                rows.append(ResultRow(table: layout.id, profile: layout.profile, row: r.label, column: c.label, metric: c.metric,
                                      protocolName: c.protocolName, value: value, stderr: out.metrics[c.metric + "_stderr"],
                                      paperModel: paper?.model, paperValue: paper?.value, paperSource: paper?.source))
                if let value, let items = out.series[c.metric] {
                    measurements[name] = CellScores(value: value, items: items, itemSize: Int(out.metrics["window"] ?? 1))
                }
            }
        }
        let test = Bootstrap(seed: context.seed)
        let outcomes = try layout.claims.map { c -> ClaimCheck.Outcome in
            let lower = layout.columns.first { $0.label == c.better.column }!.lowerIsBetter
            let check = ClaimCheck(id: c.id, statement: c.statement, source: c.source, better: "\(c.better.row) (\(c.better.column))",
                                   worse: "\(c.worse.row) (\(c.worse.column))", lowerIsBetter: lower)
            return try check.evaluate(better: measurements[ReportLayout.inputName(row: c.better.row, column: c.better.column)],
                                      worse: measurements[ReportLayout.inputName(row: c.worse.row, column: c.worse.column)], test: test)
        }
        let results = context.artifactDirectory.appendingPathComponent("Results")
        let figures = context.artifactDirectory.appendingPathComponent("Figures")
        for d in [results, figures] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try CSVTable.long(rows).write(to: results.appendingPathComponent(layout.name + ".csv"), atomically: false, encoding: .utf8)
        try CSVTable.wide(rows).write(to: results.appendingPathComponent(layout.name + "-wide.csv"), atomically: false, encoding: .utf8)
        try MarkdownSummary.render(title: layout.title, profile: layout.profile, notes: layout.notes, rows: rows, claims: outcomes)
            .write(to: results.appendingPathComponent(layout.name + ".md"), atomically: false, encoding: .utf8)
        if !layout.figureColumns.isEmpty { try figure(layout, rows).render(name: layout.name, in: figures) }
        context.progress(1, 1)
        var metrics: [String: Double] = [:]
        for o in outcomes { metrics["claim." + o.claim.id] = o.verdict == .holds ? 1 : 0 }
        return StageOutput(metrics: metrics, notes: Dictionary(uniqueKeysWithValues: outcomes.map { ("claim." + $0.claim.id, $0.verdict.rawValue) }))
    }

    private func figure(_ layout: ReportLayout, _ rows: [ResultRow]) -> GnuplotFigure {
        let labels = layout.rows.map(\.label)
        let columns = layout.columns.filter { layout.figureColumns.contains($0.label) }
        let series = columns.map { c in
            GnuplotFigure.Series(name: c.label,
                                 values: labels.map { l in rows.first { $0.row == l && $0.column == c.label }?.value },
                                 errors: labels.map { l in rows.first { $0.row == l && $0.column == c.label }?.stderr })
        }
        let metric = columns.first?.metric ?? ""
        return GnuplotFigure(title: "\(layout.title) (\(layout.profile) profile)", yLabel: metric,
                             logScale: metric == "perplexity", categories: labels, series: series)
    }
}
