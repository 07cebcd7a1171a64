import Foundation

/// A figure written as a self-contained gnuplot script (data inline) and rendered to PNG by
/// running `gnuplot`: what every report figure shares.
public protocol GnuplotScript {
    /// The script; `terminal` is `pngcairo` or `png` (see `availableTerminal`), `output` the PNG's file name.
    func script(terminal: String, output: String) -> String
}

extension GnuplotScript {
    /// `pngcairo` when this gnuplot has it (gnuplot-nox may not), else `png`.
    public static func availableTerminal(gnuplot: String = "gnuplot") throws -> String {
        let out = try run(gnuplot, ["-e", "set terminal"], in: nil)
        if out.contains("pngcairo") { return "pngcairo" }
        if out.range(of: #"(?m)^\s*png\s"#, options: .regularExpression) != nil { return "png" }
        throw ReportError.gnuplot(reason: "neither the pngcairo nor the png terminal is available")
    }

    /// Writes `<name>.gp` in `directory`, runs gnuplot there, and checks that `<name>.png` appeared.
    public func render(name: String, in directory: URL, gnuplot: String = "gnuplot") throws {
        let terminal = try Self.availableTerminal(gnuplot: gnuplot)
        let scriptURL = directory.appendingPathComponent(name + ".gp")
        try script(terminal: terminal, output: name + ".png").write(to: scriptURL, atomically: true, encoding: .utf8)
        _ = try Self.run(gnuplot, [scriptURL.lastPathComponent], in: directory)
        let png = directory.appendingPathComponent(name + ".png")
        guard let head = FileManager.default.contents(atPath: png.path)?.prefix(4), Array(head) == [0x89, 0x50, 0x4E, 0x47] else {
            throw ReportError.gnuplot(reason: "\(png.path) was not written as a PNG")
        }
    }

    /// Runs gnuplot and returns stdout + stderr (gnuplot prints `set terminal` lists on stderr).
    static func run(_ program: String, _ args: [String], in directory: URL?) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        if let directory { p.currentDirectoryURL = directory }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { throw ReportError.gnuplot(reason: "cannot start \(program): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw ReportError.gnuplot(reason: "\(program) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(text)")
        }
        return text
    }

    /// A gnuplot string literal.
    func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "'") + "\"" }
}
