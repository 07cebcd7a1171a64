import Methods
import Models
import Quantization
import Tensor
import Training

/// One projection of a deployed model in the terms an exporter needs: what its base weight is
/// stored as, and the float adapter path computed beside it (the unmerged "b&16" rows).
///
/// This is the one place that maps the linear operators a method's `export` builds to exportable
/// forms; every exporter (qaft's own deployed file, llama.cpp GGUF, GPTQ safetensors) reads these.
public struct DeployedLayer: Equatable, Sendable {
    /// The stored base weight.
    public enum Base: Equatable, Sendable, CustomStringConvertible {
        /// A uniform integer grid, w = scale · (code − zero) per (row, group): RTN, GPTQ, OmniQuant,
        /// L4Q, QA-LoRA, LoTA-QAF, PEQA, the QAT rows, and the frozen base of QLoRA*/LoftQ*/GPTQ+LoRA.
        case grid(QuantizedMatrix)
        /// A grid plus fp weak input columns (QEFT, OWQ).
        case mixed(MixedPrecisionWeights)
        /// QLoRA's NF4 codebook, held as its dequantized values (the same function: NF4Linear
        /// dequantizes the whole weight before each product).
        case nf4(Matrix)
        /// A float weight.
        case dense(Matrix)

        /// What the base is, for messages naming a form a format cannot hold.
        public var description: String {
            switch self {
            case .grid(let q): return "\(q.bits)-bit grid g\(q.groupSize)"
            case .mixed(let m): return "\(m.lowBit.bits)-bit grid with \(m.weakIndices.count) fp weak columns"
            case .nf4: return "NF4 weight"
            case .dense: return "float weight"
            }
        }
    }

    /// y += (alpha / rank) · x Aᵀ Bᵀ with A (rank, in) and B (out, rank), as `LoRALinear`.
    public struct Adapter: Equatable, Sendable {
        public var a: Matrix
        public var b: Matrix
        public var alpha: Float
        public var rank: Int { a.rows }

        public init(a: Matrix, b: Matrix, alpha: Float) {
            self.a = a
            self.b = b
            self.alpha = alpha
        }
    }

    public var base: Base
    public var adapter: Adapter?

    public init(base: Base, adapter: Adapter? = nil) {
        self.base = base
        self.adapter = adapter
    }

    public var rows: Int {
        switch base {
        case .grid(let q): return q.rows
        case .mixed(let m): return m.rows
        case .nf4(let w), .dense(let w): return w.rows
        }
    }

    public var cols: Int {
        switch base {
        case .grid(let q): return q.cols
        case .mixed(let m): return m.cols
        case .nf4(let w), .dense(let w): return w.cols
        }
    }

    /// The exportable form of `op`, a projection of an `ExportedModel` or of a decoding form
    /// (`DeployedModel.decodingLlama`); `site` names it in the error for an operator no exporter knows.
    public init(_ op: any LinearOperator, site: String) throws {
        switch op {
        case let g as GridLinear:
            self.init(base: .grid(g.grid))
        case let q as QuantizedLinear:
            self.init(base: .grid(q.weights.unpacked()))
        case let m as MixedPrecisionLinear:
            self.init(base: .mixed(m.weights))
        case let n as NF4Linear:
            self.init(base: .nf4(n.denseWeight()))
        case let d as DenseLinear:
            self.init(base: .dense(d.weight))
        case let f as FrozenLinear:
            try self.init(f.base, site: site)
        case let u as UnmergedAdapter:
            // A packed base with its float adapter (QAT+LoRA's export, and any decoding form);
            // alpha as LoRA defines it, scale · rank.
            let inner = try DeployedLayer(u.base, site: site)
            guard inner.adapter == nil else { throw ExportError.unsupportedLayer(site: site, reason: "an adapter over an adapter") }
            self.init(base: inner.base, adapter: Adapter(a: u.a, b: u.b, alpha: u.scale * Float(u.a.rows)))
        case let l as LoRALinear:
            let inner = try DeployedLayer(l.base, site: site)
            guard inner.adapter == nil else { throw ExportError.unsupportedLayer(site: site, reason: "an adapter over an adapter") }
            self.init(base: inner.base, adapter: Adapter(a: l.a.matrix, b: l.b.matrix, alpha: l.config.alpha))
        default:
            throw ExportError.unsupportedLayer(site: site, reason: "operator \(type(of: op)) has no exportable form")
        }
    }

    /// The operator computing this layer as the method's export did: the grid through
    /// `GridLinear`, the mixed layer through its packed kernel, NF4 and float weights densely,
    /// the adapter through `LoRALinear`.
    public func linear(site: String) throws -> any LinearOperator {
        let base: any LinearOperator
        switch self.base {
        case .grid(let q): base = GridLinear(q)
        case .mixed(let m): base = MixedPrecisionLinear(m)
        case .nf4(let w), .dense(let w): base = DenseLinear(w)
        }
        guard let adapter else { return base }
        guard let differentiable = base as? any InputGradientLinear else {
            throw ExportError.unsupportedLayer(site: site, reason: "an adapter over a mixed-precision layer")
        }
        var random = SeededRandom(seed: 0)
        let lora = LoRALinear(base: differentiable, config: LoRAConfig(rank: adapter.rank, alpha: adapter.alpha), name: site,
                              random: &random)
        adapter.a.storage.withUnsafeBufferPointer { lora.a.value.pointer.update(from: $0.baseAddress!, count: $0.count) }
        adapter.b.storage.withUnsafeBufferPointer { lora.b.value.pointer.update(from: $0.baseAddress!, count: $0.count) }
        return lora
    }

    /// The base weight as the deployed model computes with it, (rows, cols).
    public var baseWeight: Matrix {
        switch base {
        case .grid(let q):
            var w = Matrix(zeros: q.rows, q.cols)
            w.storage.withUnsafeMutableBufferPointer { q.dequantize(into: $0.baseAddress!) }
            return w
        case .mixed(let m): return m.dequantized()
        case .nf4(let w), .dense(let w): return w
        }
    }
}
