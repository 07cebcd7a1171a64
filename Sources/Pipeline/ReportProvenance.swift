import Foundation

/// What a report was made from, written beside it (`Results/<name>-provenance.json`) so a reader
/// can tell whether a committed table is what today's code makes: the commit of the code that ran
/// the report stage, the machine's vector ISA (AVX2 and AVX-512 machines sum in different orders,
/// so their numbers differ in the last digits), and the keys of the report and of every stage it read.
/// `qaft status --all` re-plans each committed report's target and calls it stale when its report
/// key differs from the planned one (the report key hashes every upstream key).
public struct ReportProvenance: Codable, Equatable, Sendable {
    public var target: String
    public var profile: String
    /// The key of the report stage: equal to today's planned key iff no input, parameter or code
    /// version upstream changed.
    public var reportKey: String
    /// `git rev-parse HEAD` of the working directory the stage ran in, "+modified" when the work
    /// tree had uncommitted changes to tracked files outside `Results/` and `Figures/`, "unknown"
    /// outside a git checkout.
    public var commit: String
    public var vectorISA: String
    /// Every input of the report stage (one per cell and per fine-tuned row), by input name.
    public var stages: [String: String]

    static let suffix = "-provenance.json"

    /// The file of report `name` (a layout's `name`) in `results`.
    public static func url(name: String, in results: URL) -> URL { results.appendingPathComponent(name + suffix) }

    /// Every provenance file in `results`, by file name.
    public static func all(in results: URL) throws -> [(file: String, provenance: ReportProvenance)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? []
        return try names.filter { $0.hasSuffix(suffix) }.sorted().map { name in
            let url = results.appendingPathComponent(name)
            do { return (name, try JSONDecoder().decode(ReportProvenance.self, from: Data(contentsOf: url))) } catch {
                throw PipelineError.artifact(path: url.path, reason: "not a report provenance file: \(error)")
            }
        }
    }

    /// The provenance of a report stage running now.
    static func current(target: String, profile: String, context: StageContext) -> ReportProvenance {
        ReportProvenance(target: target, profile: profile, reportKey: context.key.hex, commit: commit(),
                         vectorISA: vectorISA(), stages: context.inputs.mapValues(\.key.hex))
    }

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: url)
    }

    /// The one line the Markdown summary of report `name` shows.
    func summary(name: String) -> String {
        "Made by commit \(commit) on a \(vectorISA) machine; report key \(reportKey.prefix(16)) (every stage key: \(name)\(Self.suffix))."
    }

    /// Whether each report in `results` is what today's code would make. `plannedKey` gives the
    /// report key a target plans today under a profile (nil: no such target). A report whose
    /// Markdown summary has no provenance file beside it predates provenance and counts as stale.
    public static func check(_ results: URL, plannedKey: (_ target: String, _ profile: String) throws -> String?) throws -> [(report: String, state: State)] {
        var out: [(String, State)] = []
        let recorded = try all(in: results)
        for (file, p) in recorded {
            let name = String(file.dropLast(suffix.count))
            guard let planned = try plannedKey(p.target, p.profile) else { out.append((name, .unknownTarget)); continue }
            out.append((name, planned == p.reportKey ? .current : .stale(made: p.commit)))
        }
        let names = Set(out.map(\.0))
        let summaries = ((try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? []).filter { $0.hasSuffix(".md") }
        for md in summaries.sorted() where !names.contains(String(md.dropLast(3))) { out.append((String(md.dropLast(3)), .noProvenance)) }
        return out.sorted { $0.0 < $1.0 }
    }

    /// A committed report against today's plan.
    public enum State: Equatable, Sendable, CustomStringConvertible {
        case current
        /// Its key differs from the planned one; `made` is the commit that made it.
        case stale(made: String)
        case noProvenance
        case unknownTarget

        public var description: String {
            switch self {
            case .current: return "current"
            case .stale(let commit): return "stale (made by \(commit); today's code plans other stages)"
            case .noProvenance: return "stale (no provenance recorded: made before reports recorded it)"
            case .unknownTarget: return "unknown target (no longer in the catalog)"
            }
        }
    }

    /// HEAD of the checkout at `directory` (the working directory when nil), "+modified" when a
    /// tracked file outside `Results/` and `Figures/` changed: reports' own outputs are not the
    /// code that made them, and counting them marked every target reproduced after another in the
    /// same checkout as modified.
    static func commit(in directory: URL? = nil) -> String {
        guard let head = git(["rev-parse", "HEAD"], in: directory), !head.isEmpty else { return "unknown" }
        let code = ["--", ":(top)", ":(top,exclude)Results", ":(top,exclude)Figures"]
        let dirty = git(["status", "--porcelain", "--untracked-files=no"] + code, in: directory).map { !$0.isEmpty } ?? false
        return head + (dirty ? "+modified" : "")
    }

    /// `git ARGUMENTS` in `directory`: its trimmed stdout, or nil when git fails or is missing.
    static func git(_ arguments: [String], in directory: URL?) -> String? {
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + arguments
        if let directory { p.currentDirectoryURL = directory }
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The widest x86 vector extension the CPU reports (/proc/cpuinfo), e.g. "AVX-512 (BF16)".
    static func vectorISA() -> String {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            #if arch(arm64)
            return "arm64"
            #else
            return "unknown"
            #endif
        }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.contains("avx512f") { return flags.contains("avx512_bf16") || flags.contains("amx_bf16") ? "AVX-512 (BF16)" : "AVX-512" }
        if flags.contains("avx2") { return "AVX2" }
        return "x86-64 without AVX2"
    }
}
