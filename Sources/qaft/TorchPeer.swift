import Foundation
import Tensor

/// One round of a PyTorch peer (`Experiments/Bench/torch_peers.py`) as the bench compares with it.
struct PeerMeasurement: Equatable, Decodable {
    var workload: TorchPeer.Workload
    var precision: ComputePrecision
    var batch: Int
    var length: Int
    /// Median over the round's timed repetitions.
    var tokensPerSecond: Double
    /// The whole process's peak resident bytes (getrusage), loading included.
    var peakRssBytes: Int
    /// The peak right after loading the model (transformers dequantizing the GGUF).
    var loadPeakRssBytes: Int
    /// The timed repetitions' own peak (VmHWM reset after the warm-up, freed heap returned first):
    /// the resident model, libraries and working set, as qaft's bench rows measure themselves; nil
    /// where the kernel refused the reset.
    var workloadPeakRssBytes: Int?
    var torch: String
    var transformers: String
    var peft: String

    /// The script's field names, so an error names the field as the script spells it.
    enum CodingKeys: String, CodingKey {
        case workload, precision, batch, length, torch, transformers, peft
        case tokensPerSecond = "tokens_per_second", peakRssBytes = "peak_rss_bytes"
        case loadPeakRssBytes = "load_peak_rss_bytes", workloadPeakRssBytes = "workload_peak_rss_bytes"
    }

    /// "torch 2.15.0, transformers 5.25.0, peft 0.21.2".
    var versions: String { "torch \(torch), transformers \(transformers), peft \(peft)" }
}

/// PyTorch (torch CPU + transformers + peft) measured in the same `qaft bench` run, one subprocess
/// per round so rounds alternate with qaft's own and each round's peak memory is its own.
enum TorchPeer {
    enum Workload: String, Decodable, CaseIterable {
        /// All logits of the batch, no grad.
        case forward
        /// One LoRA r 16 training step on all seven projections (forward, backward, AdamW).
        case lora
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The peer script, relative to the repository root `make bench` runs from.
    static let defaultScript = URL(fileURLWithPath: "Experiments/Bench/torch_peers.py")

    /// Why the peers cannot run `model` here (not a GGUF file, which is all the script loads; no
    /// script, no python3, or the exact import error of torch, transformers, peft or gguf), or nil
    /// when they can.
    static func unavailable(model: String, script: URL = defaultScript) -> String? {
        guard model.lowercased().hasSuffix(".gguf") else { return "the peers load GGUF files only, and the model is \(model)" }
        guard FileManager.default.fileExists(atPath: script.path) else { return "\(script.path) does not exist" }
        let result: (status: Int32, stdout: String, stderr: String)
        do { result = try python(["-c", "import torch, transformers, peft, gguf"]) } catch {
            return "python3 could not be started: \(error)"
        }
        switch result.status {
        case 0: return nil
        case 127: return "python3 not found on PATH"
        default: return lastLine(result.stderr) ?? "python3 -c 'import torch, transformers, peft, gguf' exited with status \(result.status)"
        }
    }

    /// Runs one round of `workload` at `precision` on `tokens` (the same ids qaft's own row uses:
    /// equally long sequences), on two threads: `warmup` untimed then `steps` timed repetitions.
    static func measure(workload: Workload, precision: ComputePrecision, model: String, tokens: [[Int]],
                        steps: Int = 3, warmup: Int = 1, script: URL = defaultScript) throws -> PeerMeasurement {
        let ids = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-torch-peer-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: tokens).write(to: ids, options: .atomic)
        defer { try? FileManager.default.removeItem(at: ids) }
        let result = try python([script.path, "--model", model, "--workload", workload.rawValue, "--precision", precision.rawValue,
                                 "--tokens", ids.path, "--steps", "\(steps)", "--warmup", "\(warmup)", "--threads", "2"])
        guard result.status == 0 else {
            throw Failure(description: "\(script.path) exited with status \(result.status): \(lastLine(result.stderr) ?? "no error output")")
        }
        let m = try parse(result.stdout, script: script.path)
        let asked = "\(workload.rawValue) \(precision.rawValue) \(tokens.count)×\(tokens.first?.count ?? 0)"
        let got = "\(m.workload.rawValue) \(m.precision.rawValue) \(m.batch)×\(m.length)"
        guard asked == got else { throw Failure(description: "\(script.path) measured \(got) when asked for \(asked)") }
        return m
    }

    /// The measurement in the script's output: its last non-empty line, one JSON object.
    static func parse(_ output: String, script: String) throws -> PeerMeasurement {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.lastIndex(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw Failure(description: "\(script) printed no result line")
        }
        let line = String(lines[index])
        let m: PeerMeasurement
        do { m = try JSONDecoder().decode(PeerMeasurement.self, from: Data(line.utf8)) } catch {
            throw Failure(description: "\(script), output line \(index + 1) `\(line.prefix(200))`: \(reason(error))")
        }
        let checks: [(String, Bool)] = [
            ("tokens_per_second \(m.tokensPerSecond) is not a positive number", m.tokensPerSecond.isFinite && m.tokensPerSecond > 0),
            ("peak_rss_bytes \(m.peakRssBytes) is not positive", m.peakRssBytes > 0),
            ("batch \(m.batch) or length \(m.length) is not positive", m.batch > 0 && m.length > 0),
        ]
        if let failed = checks.first(where: { !$0.1 }) {
            throw Failure(description: "\(script), output line \(index + 1) `\(line.prefix(200))`: \(failed.0)")
        }
        return m
    }

    /// A decoding error as the field it concerns and what was wrong with it.
    private static func reason(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: return "field \(key.stringValue) missing"
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: return "field \(path(c.codingPath)): \(c.debugDescription)"
        case .dataCorrupted(let c)?:
            return c.codingPath.isEmpty ? "not a JSON object" : "field \(path(c.codingPath)): \(c.debugDescription)"
        default: return "\(error)"
        }
    }

    private static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init)
    }

    /// Runs `python3 arguments` (found on PATH) to completion; stderr goes to a temporary file so
    /// neither pipe can fill while the other is read.
    private static func python(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-torch-peer-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let process = Process(), out = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let stderr = String(decoding: (try? Data(contentsOf: errors)) ?? Data(), as: UTF8.self)
        return (process.terminationStatus, stdout, stderr)
    }
}
