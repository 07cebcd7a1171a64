import Foundation

/// A grouped bar chart with error bars (one group per method row, one bar per series), written
/// as a self-contained gnuplot script (data inline) and rendered to PNG by running `gnuplot`.
public struct GnuplotFigure: GnuplotScript, Sendable {
    public struct Series: Sendable {
        public var name: String
        /// One value per category; nil = not measured.
        public var values: [Double?]
        public var errors: [Double?]

        public init(name: String, values: [Double?], errors: [Double?]) {
            self.name = name
            self.values = values
            self.errors = errors
        }
    }

    public var title: String
    public var yLabel: String
    public var logScale: Bool
    public var categories: [String]
    public var series: [Series]

    public init(title: String, yLabel: String, logScale: Bool, categories: [String], series: [Series]) {
        self.title = title
        self.yLabel = yLabel
        self.logScale = logScale
        self.categories = categories
        self.series = series
    }

    /// The script; `terminal` is `pngcairo` or `png` (see `availableTerminal`), `output` the PNG's file name.
    public func script(terminal: String, output: String) -> String {
        var s = header(terminal: terminal, output: output, title: title, yLabel: yLabel) + """
            set datafile missing "?"
            set style data histograms
            set style histogram errorbars gap 1 lw 1
            set style fill solid 0.6 border -1
            set key top left
            set grid ytics
            set xtics rotate by -30
            set yrange [\(logScale ? "*" : "0"):*]

            """
        if logScale { s += "set logscale y\n" }
        s += "$data << EOD\n"
        for (i, c) in categories.enumerated() {
            var fields = [quoted(c)]
            for sr in series { fields += [cell(sr.values[i]), cell(sr.errors[i] ?? (sr.values[i] == nil ? nil : 0))] }
            s += fields.joined(separator: " ") + "\n"
        }
        s += "EOD\n"
        let plots = series.enumerated().map { j, sr in
            "$data using \(2 + 2 * j):\(3 + 2 * j)\(j == 0 ? ":xtic(1)" : "") title \(quoted(sr.name))"
        }
        s += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return s
    }

    private func cell(_ x: Double?) -> String { x.map { $0.isFinite ? $0.description : "?" } ?? "?" }

}

/// A report could not be produced.
public enum ReportError: Error, Equatable, CustomStringConvertible {
    case gnuplot(reason: String)
    case claim(id: String, reason: String)

    public var description: String {
        switch self {
        case .gnuplot(let r): return "gnuplot: \(r)"
        case let .claim(id, r): return "claim \(id): \(r)"
        }
    }
}
