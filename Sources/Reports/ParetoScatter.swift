import Foundation

/// Named points over two measurements, each with its direction, and the Pareto front among them:
/// the points no other point matches or beats on both axes while beating on one. Drawn as a
/// labelled scatter with the front joined by a line (QEFT's Figure 1 pair, L4Q's Figure 1).
public struct ParetoScatter: GnuplotScript, Sendable {
    public struct Point: Sendable, Equatable {
        public var name: String
        public var x: Double
        public var y: Double

        public init(name: String, x: Double, y: Double) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    /// A second x of some points (another runtime's speed of the same model), by point name:
    /// drawn as its own series named `name` (the points' own series is `firstName`), each joined
    /// to its point; no part of the front.
    public struct Companion: Sendable, Equatable {
        public var name: String
        public var firstName: String
        public var x: [String: Double]

        public init(name: String, firstName: String, x: [String: Double]) {
            self.name = name
            self.firstName = firstName
            self.x = x
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xHigherIsBetter: Bool
    public var yHigherIsBetter: Bool
    public var points: [Point]
    public var companion: Companion?

    public init(title: String, xLabel: String, yLabel: String, xHigherIsBetter: Bool, yHigherIsBetter: Bool, points: [Point],
                companion: Companion? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xHigherIsBetter = xHigherIsBetter
        self.yHigherIsBetter = yHigherIsBetter
        self.points = points
        self.companion = companion
    }

    /// Whether point `i` is on the front.
    public var front: [Bool] {
        func atLeast(_ a: Double, _ b: Double, _ higher: Bool) -> Bool { higher ? a >= b : a <= b }
        return points.map { p in
            !points.contains { q in
                atLeast(q.x, p.x, xHigherIsBetter) && atLeast(q.y, p.y, yHigherIsBetter) && (q.x != p.x || q.y != p.y)
            }
        }
    }

    /// Long-form CSV: one line per point with its front membership, and the companion's x
    /// (empty where it has none) in a last column.
    public func csv() -> String {
        let onFront = front
        var lines = [CSVTable.line(["row", xLabel, yLabel, "pareto_front"] + (companion.map { ["\(xLabel) (\($0.name))"] } ?? []))]
        for (p, f) in zip(points, onFront) {
            let second = companion.map { [CSVTable.number($0.x[p.name])] } ?? []
            lines.append(CSVTable.line([p.name, CSVTable.number(p.x), CSVTable.number(p.y), f ? "1" : "0"] + second))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func script(terminal: String, output: String) -> String {
        func direction(_ higher: Bool) -> String { higher ? " (higher is better)" : " (lower is better)" }
        var s = header(terminal: terminal, output: output, height: 640, title: title, xLabel: xLabel + direction(xHigherIsBetter),
                       yLabel: yLabel + direction(yHigherIsBetter)) + """
            set grid
            set key bottom right
            set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08

            """
        s += "$points << EOD\n"
        for p in points where p.x.isFinite && p.y.isFinite { s += "\(p.x) \(p.y) \(quoted(p.name))\n" }
        s += "EOD\n$front << EOD\n"
        for p in zip(points, front).filter({ $0.1 }).map({ $0.0 }).sorted(by: { $0.x < $1.x }) where p.x.isFinite && p.y.isFinite {
            s += "\(p.x) \(p.y)\n"
        }
        s += "EOD\n"
        // gnuplot warns on an empty data block: without companion points the plot is the plain one.
        guard let companion, points.contains(where: { companion.x[$0.name]?.isFinite == true }) else {
            s += "plot $front using 1:2 with lines lw 2 dt 2 title \"Pareto front\", \\\n"
            s += "     $points using 1:2 with points pt 7 ps 1.5 notitle, \\\n"
            s += "     $points using 1:2:3 with labels offset 0,1 font \",9\" notitle\n"
            return s
        }
        // Each companion point beside its point: x, y of the point, then the companion's x.
        s += "$companion << EOD\n"
        for p in points where p.x.isFinite && p.y.isFinite {
            if let x = companion.x[p.name], x.isFinite { s += "\(p.x) \(p.y) \(x)\n" }
        }
        s += "EOD\n"
        s += "plot $front using 1:2 with lines lw 2 dt 2 title \"Pareto front (\(companion.firstName))\", \\\n"
        s += "     $points using 1:2 with points pt 7 ps 1.5 title \(quoted(companion.firstName)), \\\n"
        s += "     $points using 1:2:3 with labels offset 0,1 font \",9\" notitle, \\\n"
        s += "     $companion using 1:2:($3-$1):(0) with vectors nohead lw 1.5 lc rgb \"#999999\" notitle, \\\n"
        s += "     $companion using 3:2 with points pt 5 ps 1.3 title \(quoted(companion.name))\n"
        return s
    }
}
