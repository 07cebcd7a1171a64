import ArgumentParser
import Foundation
import Methods
import Models
import Tensor
import Training

extension Bench {
    /// The methods of L4Q Table 1/10 with the options they are measured with: 4-bit, group 64,
    /// rank 4 (the paper's default; QA-LoRA gets twice the rank, as in the paper, on an RTN base so
    /// no calibration pass enters the measurement).
    static let tableMethods: [(name: String, options: MethodOptions)] = [
        ("lora", MethodOptions(bits: 4, groupSize: 64, rank: 4, alpha: 8)),
        ("qlora", MethodOptions(bits: 4, groupSize: 64, rank: 4, alpha: 8)),
        ("qa-lora", MethodOptions(bits: 4, groupSize: 64, rank: 8, alpha: 16, extra: ["base": 0])),
        ("qat", MethodOptions(bits: 4, groupSize: 64)),
        ("qat-lora", MethodOptions(bits: 4, groupSize: 64, rank: 4, alpha: 8)),
        ("l4q", MethodOptions(bits: 4, groupSize: 64, rank: 4, alpha: 8)),
    ]

    /// The method a child process was started to measure (`--only method=NAME`).
    private var childMethod: String? {
        only?.split(separator: ",").first { $0.hasPrefix("method=") }.map { String($0.dropFirst("method=".count)) }
    }

    /// The shape of L4Q Table 1/10 on this model: peak resident memory (VmHWM) and median training
    /// step time at 4×256 tokens for each method, as ratios to LoRA. Each method runs in a fresh
    /// child process (`qaft bench --only method=NAME`) so one method's peak never hides another's.
    /// Returns true when this process is such a child: it has measured its one method and the
    /// caller should stop.
    func methodsSection() throws -> Bool {
        if let name = childMethod {
            try measureMethod(name)
            return true
        }
        guard wants("methods") else { return false }
        print("\n## fine-tuning memory and step time (L4Q Table 1/10): 4-bit g64, r 4, 4×256 tokens, one process each")
        print("  method      peak RSS  ×LoRA  above load   step s  ×LoRA  trainable")
        var results: [String: Measurement] = [:]
        for (name, _) in Self.tableMethods {
            guard MethodRegistry.names.contains(name) else {
                print("  \(padded(name))  n/a (not in the registry)")
                continue
            }
            let m: Measurement
            do { m = try measureInChild(name) } catch {
                print("  \(padded(name))  failed: \(error)")
                continue
            }
            results[name] = m
            let lora = results["lora"] ?? m
            print("  \(padded(name))" + String(format: " %6.2f GB  %5.2f  %7.2f GB  %7.2f  %5.2f  %9d", m.peak / 1e9, m.peak / lora.peak,
                                                  (m.peak - m.loaded) / 1e9, m.step, m.step / lora.step, m.trainable))
        }
        print("  paper (LLaMA-7B, A100, GB): LoRA 25.1, QA-LoRA 14.8, LSQ/QAT 79.5 (3.17×), QAT-LoRA 41.9 (1.67×), L4Q 25.4 (1.01×)")
        if let lora = results["lora"], let l4q = results["l4q"] {
            let mem = l4q.peak / lora.peak, time = l4q.step / lora.step
            print(String(format: "  target L4Q ≤ 1.1× LoRA memory: %.2f× %@;  ≤ 1.5× LoRA step time: %.2f× %@",
                         mem, (mem <= 1.1 ? "met" : "MISSED") as NSString, time, (time <= 1.5 ? "met" : "MISSED") as NSString))
        }
        return false
    }

    private func padded(_ name: String) -> String { name.padding(toLength: 9, withPad: " ", startingAt: 0) }

    struct Measurement {
        /// Peak resident bytes of the whole run, and right after loading the model.
        var peak: Double, loaded: Double
        /// Median seconds per optimizer step.
        var step: Double
        var trainable: Int
    }

    /// Runs `qaft bench --only method=NAME` with this run's model and repeats and reads its result line.
    private func measureInChild(_ name: String) throws -> Measurement {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["bench", "--only", "method=\(name)", "--model", modelOptions.model, "--repeats", "\(repeats)", "--quiet"]
            + (modelOptions.tokenizer.map { ["--tokenizer", $0] } ?? [])
        let out = Pipe()
        child.standardOutput = out
        try child.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        let fields = text.split(separator: "\n").first { $0.hasPrefix("method-result ") }?.split(separator: " ") ?? []
        guard child.terminationStatus == 0, fields.count == 6, let peak = Double(fields[2]), let loaded = Double(fields[3]),
              let step = Double(fields[4]), let trainable = Int(fields[5]) else {
            throw ValidationError("bench child for \(name) exited with status \(child.terminationStatus) and output: \(text)")
        }
        return Measurement(peak: peak, loaded: loaded, step: step, trainable: trainable)
    }

    /// The child's work: load, prepare `name`, time `repeats` training steps after one warm-up, and
    /// print one `method-result NAME PEAK LOADED STEP TRAINABLE` line for the parent.
    private func measureMethod(_ name: String) throws {
        guard let options = Self.tableMethods.first(where: { $0.name == name })?.options else {
            throw ValidationError("--only method=\(name): not one of \(Self.tableMethods.map(\.name).joined(separator: ", "))")
        }
        let loaded = try modelOptions.load()
        let afterLoad = ResidentMemory.peakBytes()
        let method = try MethodRegistry.make(name, options: options)
        let model = try method.prepare(MethodContext(weights: loaded.weights, seed: 1))
        let groups = method.parameterGroups(model)
        var rng = SeededRandom(seed: 2)
        let vocab = UInt64(loaded.config.vocabSize)
        let sequences = (0..<4).map { _ in TrainingSequence(tokens: (0..<256).map { _ in Int(rng.next() % vocab) }, responseStart: 1) }
        let trainer = try Trainer(model: model, groups: groups, data: sequences, config: TrainingConfig(
            steps: repeats + 1, batchSize: 4, microBatchSize: 4,
            schedule: LearningRateSchedule(peak: 1e-5, warmupSteps: 0, totalSteps: repeats + 1)))
        let step = try median { _ = try trainer.trainStep() }
        let trainable = groups.flatMap(\.parameters).reduce(0) { $0 + $1.count }
        print("method-result \(name) \(ResidentMemory.peakBytes()) \(afterLoad) \(step) \(trainable)")
    }
}
