import Foundation
import Models
import Quantization
import Tensor

/// A deployed model as the GGUF files llama.cpp runs with no key of qaft's: the model (projections
/// in Q4_0/Q4_1/Q8_0, `LlamaCppGrid`; the token embedding and an untied head in the most compact
/// type that holds them exactly, `LlamaCppFloatTensor`, SmolLM2's tied one in Q8_0 as its source
/// GGUF has it; norms and biases in float32) and,
/// for a model with unmerged adapters ("4&16"), a LoRA adapter GGUF for `--lora` (`NAME.lora.gguf`
/// beside `NAME.gguf`)
/// (`general.type` = adapter, `adapter.type` = lora, `adapter.lora.alpha`, and per adapted
/// projection `blk.<l>.<site>.weight.lora_a` [in, rank] and `.lora_b` [rank, out] in F32, the
/// shapes `llama-adapter.cpp` checks). llama.cpp scales the adapter by alpha / rank, as qaft does.
public enum LlamaCppExport {
    /// What to do with a projection no llama.cpp type holds exactly.
    public enum Fallback: String, Sendable {
        /// Refuse the export, naming the projection and the reason.
        case refuse
        /// Store its dequantized weight as F16 (lossy), with a warning.
        case f16
    }

    /// Per matrix of the model file (projection, token embedding, untied head): its type, whether
    /// ggml's values equal qaft's bit for bit, and the largest difference.
    public struct TensorReport: Sendable {
        public let name: String
        public let type: GGMLType
        public let exact: Bool
        public let maxDifference: Float
    }

    public struct Report: Sendable {
        public var tensors: [TensorReport] = []
        /// Projections stored as F16 under `Fallback.f16`, with the reason.
        public var warnings: [String] = []
        /// The adapter file, when one was written.
        public var adapter: URL?
        /// Every tensor exact (the embedding, the head and the adapter always are).
        public var exact: Bool { tensors.allSatisfy(\.exact) }
        public var maxDifference: Float { tensors.map(\.maxDifference).max() ?? 0 }

        /// Types used, exactness and warnings, for the command's output.
        public var summary: String {
            var counts: [String: Int] = [:]
            let (projections, others) = (tensors.filter { $0.name.hasPrefix("blk.") }, tensors.filter { !$0.name.hasPrefix("blk.") })
            for t in projections { counts[t.type.description, default: 0] += 1 }
            let types = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            let inexact = tensors.filter { !$0.exact }.count
            var lines = ["projections: \(types)"] + others.map { "\($0.name): \($0.type) (the smallest llama.cpp type holding it exactly)" }
            lines.append(exact ? "bit-exact: llama.cpp's dequantized weights equal qaft's deployed weights"
                             : "NOT bit-exact: \(inexact) of \(tensors.count) tensors differ (fp16 rounding of d, m), max |difference| \(maxDifference)")
            lines += warnings.map { "warning: " + $0 }
            return lines.joined(separator: "\n")
        }
    }

    /// Where the adapter of a model written to `url` goes: `NAME.lora.gguf` beside `NAME.gguf`.
    public static func adapterURL(for url: URL) -> URL {
        let base = url.pathExtension == "gguf" ? url.deletingPathExtension() : url
        return base.appendingPathExtension("lora.gguf")
    }

    /// Writes `model` to `url` and its adapters, if any, to `adapterURL(for: url)`, each under a
    /// temporary name renamed at the end; nothing is written when any check fails.
    /// `metadata`: the source's `tokenizer.*` keys.
    public static func write(_ model: DeployedModel, to url: URL, metadata: [(String, GGUFValue)],
                             fallback: Fallback = .refuse) throws -> Report {
        let c = model.config
        guard c.ropeStyle == .interleaved else {
            throw ExportError.unsupportedModel(format: "GGUF", reason: "the model rotates RoPE halves (converted from Hugging Face); "
                                               + "llama.cpp's llama architecture rotates adjacent pairs, so q and k would need permuting")
        }
        guard c.ropeScaling == .none, c.slidingWindow == nil else {
            throw ExportError.unsupportedModel(format: "GGUF", reason: "RoPE scaling and sliding windows are kept in qaft's own keys, which llama.cpp does not read")
        }
        var report = Report()
        var w = try model.weights.ggufWriter(projections: false)
        for (k, v) in metadata { w.set(k, v) }
        // llama.cpp looks token_embd up for the embedding and, with no output.weight, also runs it as
        // the head; qaft evaluates `weights.head` (output ?? tokenEmbedding), so both match exactly.
        let floats = [("token_embd.weight", model.weights.tokenEmbedding)] + (model.weights.output.map { [("output.weight", $0)] } ?? [])
        for (name, m) in floats {
            let t = LlamaCppFloatTensor(m)
            try w.replaceTensor(name, type: t.type, data: t.data)
            report.tensors.append(TensorReport(name: name, type: t.type, exact: true, maxDifference: 0))
        }
        var adapters = GGUFWriter(), alpha: Float?
        adapters.set("general.architecture", .string("llama"))
        adapters.set("general.type", .string("adapter"))
        adapters.set("adapter.type", .string("lora"))
        for (l, block) in model.layers.enumerated() {
            for site in Projection.allCases {
                let name = "blk.\(l).\(site.ggufName).weight", p = block[site]!
                let (rows, cols) = site.shape(c)
                switch p.base {
                case .grid(let q):
                    let g = try LlamaCppGrid(q, site: name)
                    try w.addTensor(name, dims: [cols, rows], type: g.type, data: g.data)
                    report.tensors.append(TensorReport(name: name, type: g.type, exact: g.exact, maxDifference: g.maxDifference))
                case .mixed, .nf4:
                    let reason = "a \(p.base) has no llama.cpp type"
                    guard fallback == .f16 else { throw ExportError.unrepresentable(site: name, format: "GGUF", reason: reason) }
                    let weight = p.baseWeight
                    let data = LlamaCppFloatTensor.f16(weight.storage)
                    try w.addTensor(name, dims: [cols, rows], type: .f16, data: data)
                    let back = GGMLType.f16.dequantize(data, count: weight.storage.count)!
                    let worst = zip(back, weight.storage).map { abs($0 - $1) }.max() ?? 0
                    report.tensors.append(TensorReport(name: name, type: .f16, exact: back == weight.storage, maxDifference: worst))
                    report.warnings.append("\(name): \(reason); stored as F16 (max |difference| \(worst))")
                case .dense(let m):
                    try w.addTensor(name, dims: [cols, rows], floats: m.storage)
                    report.tensors.append(TensorReport(name: name, type: .f32, exact: true, maxDifference: 0))
                }
                guard let a = p.adapter else { continue }
                // llama.cpp scales by alpha / rank (rank: lora_a's second dimension), one alpha per file.
                guard alpha == nil || alpha == a.alpha else {
                    throw ExportError.unsupportedModel(format: "GGUF", reason: "\(name)'s adapter alpha \(a.alpha) differs from another's "
                                                       + "\(alpha!); a llama.cpp adapter file has one alpha")
                }
                alpha = a.alpha
                try adapters.addTensor(name + ".lora_a", dims: [a.a.cols, a.a.rows], floats: a.a.storage)
                try adapters.addTensor(name + ".lora_b", dims: [a.b.cols, a.b.rows], floats: a.b.storage)
            }
        }
        // Checked last, so a grid llama.cpp cannot hold is named first: without its vocabulary
        // keys llama.cpp loads no model.
        guard metadata.contains(where: { $0.0 == "tokenizer.ggml.model" }) else {
            throw ExportError.unsupportedModel(format: "GGUF", reason: "the model carries no GGUF tokenizer (tokenizer.ggml.model; a llama2.c "
                                               + "checkpoint's tokenizer is not converted), and llama.cpp loads no model without one")
        }
        if let alpha {
            let adapterFile = Self.adapterURL(for: url)
            adapters.set("adapter.lora.alpha", .float32(alpha))
            try w.write(to: url)
            do { try adapters.write(to: adapterFile) } catch {
                try? FileManager.default.removeItem(at: url)
                throw error
            }
            report.adapter = adapterFile
        } else {
            try w.write(to: url)
        }
        return report
    }
}
