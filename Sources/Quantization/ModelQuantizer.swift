import Models
import Tensor

/// Whole-model RTN / GPTQ / OWQ / QEFT quantization (qeft.md §1.2–1.7, §1.11).
public enum ModelQuantizer {
    /// Quantizes every projection of `weights`. `calibration` (token windows, e.g. from
    /// `CalibrationWindows.sample`) is required by every method but RTN. `progress(done, total)`
    /// counts blocks.
    public static func quantize(_ weights: LlamaWeights, options: ModelQuantizationOptions, calibration: [[Int]]?,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> QuantizedModel {
        try options.validate(for: weights.config)
        let quantizer = try options.quantizer()
        if options.method == .rtn {
            var out = weights
            let layers = try weights.layers.indices.map { l -> [Projection: QuantizedLayer] in
                defer { progress(l + 1, weights.layers.count) }
                var block: [Projection: QuantizedLayer] = [:]
                for site in Projection.allCases {
                    let q = QuantizedLayer.packed(try PackedWeights(quantizer.quantize(weights.layers[l][site], groupSize: options.groupSize(columns: weights.layers[l][site].cols))))
                    block[site] = q
                    out.layers[l][site] = q.dequantized()
                }
                return block
            }
            return try QuantizedModel(options: options, weights: out, layers: layers, reordering: nil)
        }
        guard let calibration else {
            throw QuantizationError.invalidOption(option: "calibration", value: "none", reason: "\(options.method.rawValue) needs calibration windows")
        }
        let walk = try SequentialCalibration(windows: calibration)
        var base = weights
        var reordering: GlobalReordering?
        var overlap: WeakColumnOverlap?
        if options.method == .qeft {
            let (global, measured) = try globalWeakIndex(weights, walk, options)
            overlap = measured
            let order = try GlobalReordering.movingToEnd(global, dimension: weights.config.dim)
            reordering = try GlobalReordering(residual: order, intermediate: Array(repeating: nil, count: weights.config.layerCount))
            base = try reordering!.apply(to: weights)
        }
        var layers: [[Projection: QuantizedLayer]] = []
        var intermediate: [[Int]?] = []
        var out = base
        try walk.run(Llama(base)) { l, stats in
            let step = try quantizeBlock(base.layers[l], stats, options, quantizer)
            layers.append(step.layers)
            intermediate.append(step.intermediate)
            for (site, q) in step.layers { out.layers[l][site] = q.dequantized() }
            progress(l + 1, weights.config.layerCount)
            return step.layers.mapValues { $0.linear() }
        }
        if let r = reordering { reordering = try GlobalReordering(residual: r.residual, intermediate: intermediate) }
        var model = try QuantizedModel(options: options, weights: out, layers: layers, reordering: reordering)
        model.weakColumnOverlap = overlap
        return model
    }

    /// QEFT's global weak index (qeft.md §1.4): the unquantized model is walked once and the
    /// mean-normalised diag(H) of q, k, v (one shared input, counted three times), gate and up
    /// (counted twice) of every block are summed; the top k are the weak residual dimensions (or,
    /// for the C3 ablation, k drawn at random). Also how each of those layers' own OWQ sets overlap
    /// with it (claim C2).
    static func globalWeakIndex(_ weights: LlamaWeights, _ walk: SequentialCalibration,
                                _ options: ModelQuantizationOptions) throws -> (index: [Int], overlap: WeakColumnOverlap) {
        var diagonals: [[Double]] = [], own: [[[Int]]] = []
        try walk.run(Llama(weights)) { l, stats in
            var sets: [[Int]] = []
            for site in Projection.allCases where site.readsResidual {
                let diagonal = stats.hessian(for: site).diagonal()
                diagonals.append(diagonal)
                sets.append(try owqWeakColumns(weights.layers[l][site], diagonal, options.weakColumns, options))
            }
            own.append(sets)
            return [:]
        }
        var global = try WeakColumns.globalIndex(hessianDiagonals: diagonals, k: options.weakColumns)
        if let seed = options.randomWeakColumns {
            var random = SeededRandom(seed: seed)
            global = Array((0..<weights.config.dim).shuffled(using: &random).prefix(options.weakColumns)).sorted()
        }
        return (global, WeakColumnOverlap(perLayer: own, global: global))
    }

    /// One block's quantized layers and, for QEFT, the order folded into its MLP dimension.
    static func quantizeBlock(_ layer: LlamaLayerWeights, _ stats: BlockStatistics, _ options: ModelQuantizationOptions,
                              _ quantizer: UniformQuantizer) throws -> (layers: [Projection: QuantizedLayer], intermediate: [Int]?) {
        var layer = layer
        let k = options.weakColumns
        var weak: [Projection: [Int]] = [:]
        var hessians = Dictionary(uniqueKeysWithValues: Projection.Input.allCases.map { input in
            (input, stats.inputs[input]!.hessian())
        })
        var intermediate: [Int]?
        switch options.method {
        case .rtn, .gptq:
            break
        case .owq:
            for site in Projection.allCases {
                weak[site] = try owqWeakColumns(layer[site], stats.hessian(for: site).diagonal(), k, options)
            }
        case .qeft:
            // Residual readers: the global set, already moved to the tail by the reordering.
            let dim = layer.wq.cols
            for site in Projection.allCases where site.readsResidual { weak[site] = Array((dim - k)..<dim) }
            weak[.o] = try owqWeakColumns(layer.wo, stats.hessian(for: .o).diagonal(), k, options)
            // down: own set, folded into gate/up rows and down's columns so it becomes the tail.
            let order = try GlobalReordering.movingToEnd(
                owqWeakColumns(layer.down, stats.hessian(for: .down).diagonal(), k, options), dimension: layer.down.cols)
            layer.gate = GlobalReordering.permuteRows(layer.gate, order)
            layer.up = GlobalReordering.permuteRows(layer.up, order)
            layer.down = GlobalReordering.permuteColumns(layer.down, order)
            hessians[.intermediate] = permuted(hessians[.intermediate]!, order)
            weak[.down] = Array((order.count - k)..<order.count)
            intermediate = order
        }
        let gptq = GPTQ.Options(groupSize: options.perChannel ? nil : options.groupSize, percentDamp: options.percentDamp, actOrder: options.actOrder)
        var out: [Projection: QuantizedLayer] = [:]
        for site in Projection.allCases {
            let r = try GPTQ.quantize(weight: layer[site], hessian: hessians[site.input]!, quantizer: quantizer,
                                      options: gptq, weakColumns: weak[site] ?? [])
            out[site] = (weak[site] ?? []).isEmpty ? .packed(try PackedWeights(r.quantized)) : .mixed(try r.packed())
        }
        return (out, intermediate)
    }

    /// OWQ's per-layer weak columns: the top k of H_jj · ‖W_:j − Q(W)_:j‖² (ascending).
    static func owqWeakColumns(_ w: Matrix, _ diagonal: [Double], _ k: Int, _ options: ModelQuantizationOptions) throws -> [Int] {
        try WeakColumns.top(k, of: WeakColumns.owqScores(weight: w, hessianDiagonal: diagonal, trial: options.trialQuantizer()))
    }

    /// H with rows and columns in `order`.
    static func permuted(_ h: [Double], _ order: [Int]) -> [Double] {
        let n = order.count
        var out = [Double](repeating: 0, count: n * n)
        for (i, a) in order.enumerated() { for (j, b) in order.enumerated() { out[i * n + j] = h[a * n + b] } }
        return out
    }
}
