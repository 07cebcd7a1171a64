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
        let plots = series.indices.map { j in "$s\(j) using 1:2 with linespoints pt 7 ps 0.5 title \(quoted(series[j].name))" }
        s += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return s
    }
}
