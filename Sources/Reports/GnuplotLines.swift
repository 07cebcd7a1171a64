import Foundation

/// A line chart over a shared numeric x axis, one line per series (e.g. each fine-tuned row's
/// training loss per optimizer step), as a self-contained gnuplot script.
public struct GnuplotLines: GnuplotScript, Sendable {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]

        public init(name: String, x: [Double], y: [Double]) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    public func script(terminal: String, output: String) -> String {
        var s = header(terminal: terminal, output: output, title: title, xLabel: xLabel, yLabel: yLabel) + """
            set key outside right
            set grid

            """
        for (j, sr) in series.enumerated() {
            s += "$s\(j) << EOD\n"
            for (x, y) in zip(sr.x, sr.y) where x.isFinite && y.isFinite { s += "\(x) \(y)\n" }
            s += "EOD\n"
        }
        // gnuplot cycles 8 colours: the point type and, past 8 lines, the dash type tell lines apart.
        let plots = series.indices.map { j in
            "$s\(j) using 1:2 with linespoints lc \(j % 8 + 1) pt \(j % 13 + 1) dt \(j / 8 + 1) ps 0.8 title \(quoted(series[j].name))"
        }
        s += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return s
    }
}
