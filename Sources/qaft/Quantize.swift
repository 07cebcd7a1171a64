import ArgumentParser
import Evaluation
import Foundation
import Models
import Quantization

/// `qaft quantize`: whole-model RTN / GPTQ / OWQ / QEFT quantization into a GGUF that
/// `qaft perplexity` (and every command using `ModelOptions.loadModel`) runs with packed kernels.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model (RTN, GPTQ, OWQ or QEFT) into a GGUF with packed low-bit layers.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Method: rtn, gptq, owq or qeft.")
    var method: String = "gptq"

    @Option(help: "Bits per weight, 2…8.")
    var bits = 4

    @Option(help: "Group size (a multiple of 16 dividing every input width).")
    var group = 64

    @Option(help: "Weak (float) columns per layer, k (owq and qeft).")
    var weak = 0

    @Flag(help: "GPTQ act-order (static groups; gptq only).")
    var actOrder = false

    @Option(help: "Group grid search: minmax, or lp (OWQ/QEFT's L2.4 search, 40 candidates; slow). Default: lp for owq/qeft, minmax otherwise.")
    var search: String?

    @Option(help: "Calibration windows drawn from the C4 sample.")
    var calibrationWindows = 128

    @Option(help: "Calibration window length in tokens.")
    var calibrationLength = 512

    @Option(help: "Seed of the calibration draw.")
    var seed: UInt64 = 0

    @Option(help: "Data folder holding c4/c4_demo.jsonl (checked against its SHA256SUMS).")
    var data = "Experiments/Data"

    @Option(name: .shortAndLong, help: "Output GGUF file.")
    var output: String

    func validate() throws {
        guard ModelQuantizationOptions.Method(rawValue: method) != nil else {
            throw ValidationError("--method must be one of \(ModelQuantizationOptions.Method.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let search, !["minmax", "lp"].contains(search) { throw ValidationError("--search must be minmax or lp") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let options = ModelQuantizationOptions(
            method: ModelQuantizationOptions.Method(rawValue: method)!, bits: bits, groupSize: group, weakColumns: weak,
            actOrder: actOrder, rangeSearch: search.map { $0 == "lp" ? .owq : .minMax })
        try options.validate(for: loaded.config)
        var metadata: [(String, GGUFValue)] = []
        var calibration: [[Int]]?
        if options.needsCalibration {
            struct Doc: Decodable { let text: String }
            let file = "c4/c4_demo.jsonl"
            let docs = try JSONLines.decode(Doc.self, from: DataDirectory(root: URL(fileURLWithPath: data)).bytes(file), file: file)
            calibration = try CalibrationWindows.sample(documents: docs.map(\.text), tokenizer: loaded.tokenizer,
                                                        count: calibrationWindows, length: calibrationLength, seed: seed)
            metadata += [("qaft.calibration.source", .string("C4 sample (\(file), \(docs.count) documents)")),
                         ("qaft.calibration.windows", .uint32(UInt32(calibrationWindows))),
                         ("qaft.calibration.length", .uint32(UInt32(calibrationLength))),
                         ("qaft.calibration.seed", .uint64(seed))]
        }
        // A GGUF source's tokenizer travels with the model; other sources need --tokenizer when loading.
        let source = URL(fileURLWithPath: modelOptions.model)
        if try ModelLoader.format(of: source) == .gguf {
            let gguf = try GGUFFile(contentsOf: source)
            metadata += gguf.metadata.filter { $0.key.hasPrefix("tokenizer.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        let progress = Progress("quantize \(method) w\(bits) g\(group)", quiet: modelOptions.quiet)
        let started = Date()
        let q = try ModelQuantizer.quantize(loaded.weights, options: options, calibration: calibration) { done, total in
            progress.update(done, of: total, unit: "blocks")
        }
        try QuantizedModelFile.write(q, to: URL(fileURLWithPath: output), metadata: metadata)
        print(String(format: "wrote %@: %@ w%d g%d k%d, %.3f bits per linear weight, quantized in %.1fs", output, method, bits, group,
                     weak, q.bitsPerWeight, Date().timeIntervalSince(started)))
    }
}
