import Evaluation
import Foundation
import Reports

/// Gathers every cell of a manifest into the report files: long and wide CSV and the Markdown
/// summary under `Results/`, the gnuplot script and its PNG under `Figures/` (all inside the
/// artifact; `qaft reproduce` copies them into the repository), plus every fine-tuned row's
/// training loss per step (`<name>-loss.csv` and its line chart, L4Q Figure 5's view) and each
/// scatter with its Pareto front (`<name>-<scatter>.csv` and figure), and `<name>-provenance.json`
/// (`ReportProvenance`: commit, vector ISA, every key the report was made from). Claims are judged with a paired
/// bootstrap over the cells' per-item series, seeded by the manifest seed.
public struct ReportStage: Stage {
    public static let kindName = "report"
    public var kind: String { Self.kindName }
    /// 3: a fine-tuned row's protocol names the precision it was trained in; the provenance file
    /// (`ReportProvenance`) beside the tables. 4: an empty cell's protocol says why it was not
    /// measured (`LlamaCppSpeedStage.notMeasured`); scatters draw their companion series.
    /// 5: figures print their labels literally (no gnuplot markup: "L4Q_init" had a subscript).
    /// 6: a time or speed taken beside other work, resumed, or without a load record says so in its
    /// cell (and in a note for scatter axes) and carries no claim (`MachineLoad.doubt`). 7: a
    /// paired claim on cells equal on every item is not judged (`ClaimCheck.evaluate`).
    public var version: String { "7" }
    public var inputNames: [String] { [] }
    public var fileNames: [String] { [] }
    public var isStochastic: Bool { true }

    public init() {}

    public func check(_ layout: ReportLayout) throws {}

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

    public func run(_ layout: ReportLayout, _ context: StageContext) throws -> StageOutput {
        var rows: [ResultRow] = []
        var measurements: [String: CellScores] = [:]
        // Timed cells that cannot carry a claim (`MachineLoad.doubt`), by input name.
        var doubts: [String: String] = [:]
        for r in layout.rows {
            // A fine-tuned row's protocol says in which precision it was trained.
            let trained = context.inputs[ReportLayout.modelInputName(row: r.label)]?.output.notes["computePrecision"]
            for c in layout.columns {
                let name = ReportLayout.inputName(row: r.label, column: c.label)
                let out = try context.input(name).output
                let value = out.metrics[c.metric]
                let doubt = MachineLoad.doubt(c.metric, in: out.metrics)
                doubts[name] = doubt
                // An empty cell whose stage said why keeps the reason beside it; a doubtful timing says why.
                let why = value == nil ? out.notes[LlamaCppSpeedStage.notMeasured].map { " — not measured: " + $0 } : doubt.map { " — " + $0 }
                let paper = layout.paperModels.lazy.compactMap { model in
                    layout.paperNumbers.first { $0.model == model && $0.row == r.paperRow && $0.column == c.paperColumn }
                }.first
                rows.append(ResultRow(table: layout.id, profile: layout.profile, row: r.label, column: c.label, metric: c.metric,
                                      protocolName: c.protocolName + (trained.map { ", fine-tuned in \($0)" } ?? "") + (why ?? ""), value: value, stderr: out.metrics[c.metric + "_stderr"],
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
            if let bound = c.ratio {
                func value(_ cell: ClaimSpec.Cell) -> Double? { rows.first { $0.row == cell.row && $0.column == cell.column }?.value }
                let doubt = [c.better, c.worse].compactMap { cell in
                    doubts[ReportLayout.inputName(row: cell.row, column: cell.column)].map { "\(cell.row): \($0)" }
                }
                return check.evaluateRatio(better: value(c.better), worse: value(c.worse), atMost: bound.atMost, atLeast: bound.atLeast,
                                           doubt: doubt.isEmpty ? nil : doubt.joined(separator: "; "))
            }
            return try check.evaluate(better: measurements[ReportLayout.inputName(row: c.better.row, column: c.better.column)],
                                      worse: measurements[ReportLayout.inputName(row: c.worse.row, column: c.worse.column)], test: test)
        }
        let results = context.artifactDirectory.appendingPathComponent("Results")
        let figures = context.artifactDirectory.appendingPathComponent("Figures")
        for d in [results, figures] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try CSVTable.long(rows).write(to: results.appendingPathComponent(layout.name + ".csv"), atomically: false, encoding: .utf8)
        try CSVTable.wide(rows).write(to: results.appendingPathComponent(layout.name + "-wide.csv"), atomically: false, encoding: .utf8)
        let provenance = ReportProvenance.current(target: layout.id, profile: layout.profile, context: context)
        try provenance.write(to: ReportProvenance.url(name: layout.name, in: results))
        try MarkdownSummary.render(title: layout.title, profile: layout.profile,
                                   notes: layout.notes + scatterDoubts(layout, context) + [provenance.summary(name: layout.name)], rows: rows, claims: outcomes)
            .write(to: results.appendingPathComponent(layout.name + ".md"), atomically: false, encoding: .utf8)
        if !layout.figureColumns.isEmpty { try figure(layout, rows).render(name: layout.name, in: figures) }
        // Every fine-tuned row's training loss per step, and its held-out loss where measured.
        for (series, stepSeries, metric, file, title, yLabel) in [
            ("loss", nil, "loss", "-loss", "Training loss", "training loss (mean NLL per response token)"),
            ("heldOutLoss", "heldOutStep", "heldout_loss", "-heldout", "Held-out loss",
             "held-out loss (mean NLL per response token, never-trained split)"),
        ] {
            let curves = layout.rows.compactMap { r -> (row: String, steps: [Int], values: [Double])? in
                guard let out = context.inputs[ReportLayout.modelInputName(row: r.label)]?.output,
                      let values = out.series[series], !values.isEmpty else { return nil }
                let steps = stepSeries.flatMap { out.series[$0]?.map { Int($0) } } ?? values.indices.map { $0 + 1 }
                return (r.label, steps, values)
            }
            if curves.isEmpty { continue }
            try CSVTable.curves(table: layout.id, profile: layout.profile, metric: metric, curves)
                .write(to: results.appendingPathComponent(layout.name + file + ".csv"), atomically: false, encoding: .utf8)
            try GnuplotLines(title: "\(title) per step, \(layout.id) (\(layout.profile) profile)",
                             xLabel: "optimizer step", yLabel: yLabel,
                             series: curves.map { .init(name: $0.row, x: $0.steps.map(Double.init), y: $0.values) })
                .render(name: layout.name + file, in: figures)
        }
        for scatter in layout.scatters {
            let figure = self.scatter(scatter, layout, rows, context)
            try figure.csv().write(to: results.appendingPathComponent("\(layout.name)-\(scatter.name).csv"), atomically: false, encoding: .utf8)
            try figure.render(name: "\(layout.name)-\(scatter.name)", in: figures)
        }
        context.progress(1, 1)
        var metrics: [String: Double] = [:]
        for o in outcomes { metrics["claim." + o.claim.id] = o.verdict == .holds ? 1 : 0 }
        return StageOutput(metrics: metrics, notes: Dictionary(uniqueKeysWithValues: outcomes.map { ("claim." + $0.claim.id, $0.verdict.rawValue) }))
    }

    /// A note for each timed model metric a scatter draws (no table cell shows it) that cannot be
    /// trusted, e.g. "fine-tuning-time-vs-speed: L4Q w4's trainSeconds was timed beside other work: …".
    private func scatterDoubts(_ layout: ReportLayout, _ context: StageContext) -> [String] {
        layout.scatters.flatMap { spec in
            [spec.x.measure, spec.y.measure].flatMap { measure -> [String] in
                guard case .model(let metric) = measure else { return [] }
                return layout.rows.compactMap { r in
                    context.inputs[ReportLayout.modelInputName(row: r.label)].flatMap { MachineLoad.doubt(metric, in: $0.output.metrics) }
                        .map { "\(spec.name): \(r.label)'s \(metric) was \($0)." }
                }
            }
        }
    }

    /// The rows with both measurements of `spec`, as a Pareto scatter.
    private func scatter(_ spec: ScatterSpec, _ layout: ReportLayout, _ rows: [ResultRow], _ context: StageContext) -> ParetoScatter {
        func value(_ m: ScatterSpec.Measure, _ row: String) -> Double? {
            switch m {
            case .column(let c): return rows.first { $0.row == row && $0.column == c }?.value
            case .model(let metric): return context.inputs[ReportLayout.modelInputName(row: row)]?.output.metrics[metric]
            }
        }
        let points = layout.rows.compactMap { r -> ParetoScatter.Point? in
            guard let x = value(spec.x.measure, r.label), let y = value(spec.y.measure, r.label), x.isFinite, y.isFinite else { return nil }
            return .init(name: r.label, x: x, y: y)
        }
        let companion = spec.companion.map { c in
            ParetoScatter.Companion(name: c.name, firstName: c.firstName,
                                    x: Dictionary(uniqueKeysWithValues: points.compactMap { p in value(c.measure, p.name).map { (p.name, $0) } }))
        }
        return ParetoScatter(title: "\(spec.title) (\(layout.profile) profile)", xLabel: spec.x.label, yLabel: spec.y.label,
                             xHigherIsBetter: spec.x.higherIsBetter, yHigherIsBetter: spec.y.higherIsBetter, points: points,
                             companion: companion)
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
