import ArgumentParser
import Foundation
import Pipeline

/// `qaft quantize`: the `quantize.<method>` stage of one row (load-model → quantize), computed in
/// the cache (or reused from it), then its packed whole-model quantization (`base.gguf`, a GGUF
/// that `qaft perplexity` and every command using `ModelOptions.loadModel` runs with packed
/// kernels) written to `-o`.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model (RTN, GPTQ, OWQ or QEFT) into a GGUF with packed low-bit layers: the pipeline's quantize stage, cached.")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var cacheOptions: CacheOptions

    @Option(help: "Method: rtn, gptq, owq, qeft (or another registered method whose quantize stage packs the whole model).")
    var method: String = "gptq"

    @Option(help: "Bits per weight, 2…8.")
    var bits = 4

    @Option(help: "Group size (a multiple of 16 dividing every input width, unless --per-channel).")
    var group = 64

    @Option(help: "Weak (float) columns per layer, k (owq and qeft; default: the method's, 16).")
    var weak: Int?

    @Flag(help: "GPTQ act-order (static groups; gptq only).")
    var actOrder = false

    @Option(help: "Group grid search of owq and qeft: lp (their L2.4 search, the default; slow) or minmax (fast). rtn and gptq use minmax only.")
    var search: RangeSearch?

    @Flag(help: "One group per output row (gptq, owq, qeft): for widths no packable group size divides (stories260K's); --group must still divide every width.")
    var perChannel = false

    @Option(help: "C4-style JSON Lines ({\"text\": ...}) to draw calibration windows from.")
    var calibrationData = "Experiments/Data/c4/c4_demo.jsonl"

    @Option(help: "Calibration windows (every method but rtn needs some).")
    var calibrationWindows = 128

    @Option(help: "Calibration window length in tokens.")
    var calibrationLength = 512

    @Option(help: "Seed of the calibration draw.")
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: "Output GGUF file (written under a temporary name, then renamed).")
    var output: String

    enum RangeSearch: String, ExpressibleByArgument, CaseIterable {
        case lp, minmax
    }

    /// OWQ and QEFT: the methods with weak float columns and the L2.4 grid search (which
    /// `extra.minMaxGrid` replaces by min-max ranges).
    static let owqFamily = ["owq", "qeft"]

    static let stage = OneStage(command: "quantize", flags: [
        "model": "--model", "model.tokenizer": "--tokenizer", "quantizer": "--method", "method": "--method", "bits": "--bits",
        "groupSize": "--group", "weakColumns": "--weak", "extra.actOrder": "--act-order", "extra.minMaxGrid": "--search",
        "extra.perChannel": "--per-channel", "calibration": "--calibration-data", "calibrationWindows": "--calibration-windows",
        "calibrationLength": "--calibration-length",
    ])

    func validate() throws {
        if let weak, !Self.owqFamily.contains(method) { throw ValidationError("--weak \(weak): only owq and qeft keep weak columns") }
        if search == .lp, !Self.owqFamily.contains(method) {
            throw ValidationError("--search lp: \(method) quantizes on min-max group grids; the L2.4 search is owq's and qeft's")
        }
    }

    func run() throws {
        var p: [String: Value] = ["calibrationWindows": .int(calibrationWindows), "calibrationLength": .int(calibrationLength)]
        if let weak { p["weakColumns"] = .int(weak) }
        var extra: [String: Value] = [:]
        if actOrder { extra["actOrder"] = 1 }
        if perChannel { extra["perChannel"] = 1 }
        if search == .minmax, Self.owqFamily.contains(method) { extra["minMaxGrid"] = 1 }
        if !extra.isEmpty { p["extra"] = .map(extra) }
        let row = RowSpec(method, quantization: QuantizationSpec(method, bits: bits, groupSize: group, parameters: p,
                                                                 calibration: calibrationData))
        let record = try Self.stage.run(row, model: modelOptions, cache: cacheOptions, seed: seed)
        guard let base = try ModelArtifact.baseFile(record) else {
            throw ValidationError("--method \(method): its quantize stage stored no packed whole-model quantization "
                                  + "(\(method) does not quantize the whole model); use rtn, gptq, owq or qeft")
        }
        try OneStage.write(base, to: output)
        print(String(format: "wrote %@: %@ w%d %@%@, %.3f bits per linear weight, quantized in %.1fs", output, method, bits,
                     perChannel ? "per-channel" : "g\(group)", weak.map { " k\($0)" } ?? "",
                     record.output.metrics["bitsPerWeight"] ?? .nan, record.seconds))
    }
}
