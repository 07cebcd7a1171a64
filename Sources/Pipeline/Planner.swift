import Foundation
import Models

/// Turns manifests into a stage plan, checking every field first: a manifest naming an unknown
/// method, impossible bits or a missing data file fails here, before any computation, with one
/// message naming the manifest, the field and the value.
public struct Planner {
    public let registry: StageRegistry
    /// The repository root manifests' relative paths are resolved against.
    public let root: URL

    public init(registry: StageRegistry = .standard, root: URL) {
        self.registry = registry
        self.root = root
    }

    /// The deduplicated plan for `manifests` (all of one profile).
    public func plan(_ manifests: [Manifest]) throws -> Plan {
        var plan = Plan(targets: manifests.map(\.id), profile: manifests.first?.profile ?? .default)
        var digests: [URL: String] = [:]
        for m in manifests {
            let report = try reportSpec(m)
            _ = try plan.add(report, manifest: m.id, seed: m.seed, registry: registry, digests: &digests)
        }
        return plan
    }

    /// The plan of one model row outside any table (what `qaft quantize` and `qaft finetune`
    /// run) and the key of the row's model stage. The row goes through the very code a manifest
    /// row goes through, so it gets the keys of a manifest row with the same model, settings and
    /// seed, and the two share cache entries. Errors name `rows[0].…` of a manifest called `name`.
    /// The plan has no targets: running it records nothing for `qaft why`.
    public func plan(model: ModelSource, row: RowSpec, seed: UInt64, name: String) throws -> (plan: Plan, key: StageKey) {
        let m = Manifest(id: name, title: name, source: "command line", profile: .default, seed: seed, model: model,
                         rows: [row], evaluations: [])
        let base = try modelSpec(m)
        try checkGroupSizes(m, model: base.files["model"]!)
        var plan = Plan(targets: [], profile: m.profile)
        var digests: [URL: String] = [:]
        let key = try plan.add(try rowSpec(m, 0, base: base), manifest: m.id, seed: seed, registry: registry, digests: &digests)
        return (plan, key)
    }

    private func fail(_ m: Manifest, _ field: String, _ value: String, _ reason: String) -> PipelineError {
        .manifest(manifest: m.id, source: m.source, field: field, value: value, reason: reason)
    }

    private func file(_ m: Manifest, _ field: String, _ path: String) throws -> URL {
        let u = URL(fileURLWithPath: path, relativeTo: root).standardizedFileURL
        guard FileManager.default.isReadableFile(atPath: u.path) else { throw fail(m, field, "\"\(path)\"", "no such file or directory: \(u.path)") }
        return u
    }

    /// The registered stage for `kind`, with its parameters checked.
    /// `field` names the manifest field that chose the kind; parameter errors are reported under
    /// `parametersField` (`<parametersField>.<name>`).
    /// `fields` names the manifest field of a parameter the planner set from one (a row's
    /// quantization `bits` and `groupSize`), so its error points there.
    private func checked(_ m: Manifest, _ field: String, parametersField: String, kind: String, shownAs name: String,
                         parameters: [String: Value], files: [String], fields: [String: String] = [:]) throws -> any Stage {
        guard let stage = registry.stage(kind) else {
            throw fail(m, field, "\"\(name)\"", "unknown (no stage \(kind); registered: \(registry.kinds.joined(separator: ", ")))")
        }
        let required: [String]
        do {
            required = try stage.settings(from: parameters).files
        } catch let e as StageParameterError {
            throw fail(m, fields[e.field] ?? "\(parametersField).\(e.field)", e.value, e.reason)
        }
        for f in required where !files.contains(f) { throw fail(m, field, "\"\(name)\"", "needs data file \"\(f)\"") }
        return stage
    }

    private func modelSpec(_ m: Manifest) throws -> StageSpec {
        var files: [String: URL] = [:]
        switch m.model {
        case .file(let path, let tokenizer):
            files["model"] = try file(m, "model", path)
            if let tokenizer { files["tokenizer"] = try file(m, "model.tokenizer", tokenizer) }
        case .smolLM2:
            let env = ProcessInfo.processInfo.environment["QAFT_SMOLLM2"]
            files["model"] = try file(m, "model", env ?? ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        }
        _ = try checked(m, "model", parametersField: "model", kind: LoadModelStage.kindName, shownAs: "load-model", parameters: [:], files: Array(files.keys))
        return StageSpec(label: "\(m.id)/load-model", kind: LoadModelStage.kindName, parameters: [:], inputs: [:], files: files)
    }

    /// Every row's group size must divide every projection input width of the model the manifest
    /// runs on (a user's model may not share the profile model's widths): refused here, before any
    /// computation, naming the row, the width and the group size.
    private func checkGroupSizes(_ m: Manifest, model: URL) throws {
        let config: LlamaConfig
        do { config = try ModelLoader.config(of: model) } catch let e as ModelFormatError {
            throw fail(m, "model", "\"\(model.path)\"", e.description)
        }
        let widths = config.projectionInputWidths
        for (i, row) in m.rows.enumerated() {
            var sizes: [(String, Int)] = []
            if let q = row.quantization { sizes.append(("rows[\(i)].quantization.groupSize", q.groupSize)) }
            if let f = row.fineTuning, case .int(let g)? = f.parameters["groupSize"] {
                sizes.append(("rows[\(i)].fineTuning.parameters.groupSize", g))
            }
            for (field, g) in sizes where g > 0 {
                if let w = widths.first(where: { $0 % g != 0 }) {
                    throw fail(m, field, String(g), "does not divide the input width \(w) of \(model.path) (its widths: \(widths.map(String.init).joined(separator: ", ")))")
                }
            }
        }
    }

    private func rowSpec(_ m: Manifest, _ i: Int, base: StageSpec) throws -> StageSpec {
        let row = m.rows[i], field = "rows[\(i)]"
        var model = base
        if let q = row.quantization {
            var p = q.parameters
            p["bits"] = .int(q.bits)
            p["groupSize"] = .int(q.groupSize)
            var files: [String: URL] = [:]
            if let c = q.calibration { files["calibration"] = try file(m, "\(field).quantization.calibration", c) }
            let kind = "quantize." + q.quantizer
            let typed = ["bits": "\(field).quantization.bits", "groupSize": "\(field).quantization.groupSize"]
            _ = try checked(m, "\(field).quantization.quantizer", parametersField: "\(field).quantization.parameters", kind: kind, shownAs: q.quantizer,
                            parameters: p, files: Array(files.keys), fields: typed)
            model = StageSpec(label: "\(m.id)/\(row.label)/quantize", kind: kind, parameters: p, inputs: ["model": model], files: files)
        }
        if let f = row.fineTuning {
            var files = ["data": try file(m, "\(field).fineTuning.data", f.data)]
            if let c = f.calibration { files["calibration"] = try file(m, "\(field).fineTuning.calibration", c) }
            var p = f.parameters
            var inputs = ["model": base]
            var inherited: [String: String] = [:]
            if let q = row.quantization {
                for name in ["bits", "groupSize"] where p[name] == nil { inherited[name] = "\(field).quantization.\(name)" }
                p["bits"] = p["bits"] ?? .int(q.bits)
                p["groupSize"] = p["groupSize"] ?? .int(q.groupSize)
                inputs["base"] = model
            }
            let kind = "finetune." + f.method
            _ = try checked(m, "\(field).fineTuning.method", parametersField: "\(field).fineTuning.parameters", kind: kind, shownAs: f.method,
                            parameters: p, files: Array(files.keys), fields: inherited)
            model = StageSpec(label: "\(m.id)/\(row.label)/finetune", kind: kind, parameters: p, inputs: inputs, files: files)
        }
        return model
    }

    private func reportSpec(_ m: Manifest) throws -> StageSpec {
        guard !m.rows.isEmpty else { throw fail(m, "rows", "[]", "a table needs at least one row") }
        guard !m.evaluations.isEmpty else { throw fail(m, "evaluations", "[]", "a table needs at least one evaluation") }
        for (name, labels) in [("rows", m.rows.map(\.label)), ("evaluations", m.evaluations.map(\.label))] {
            if let dup = labels.first(where: { l in labels.filter { $0 == l }.count > 1 }) {
                throw fail(m, name, "\"\(dup)\"", "duplicate label")
            }
        }
        let base = try modelSpec(m)
        try checkGroupSizes(m, model: base.files["model"]!)
        var evaluations: [(EvaluationSpec, [String: URL])] = []
        for (j, e) in m.evaluations.enumerated() {
            var files: [String: URL] = [:]
            for (name, path) in e.files { files[name] = try file(m, "evaluations[\(j)].files.\(name)", path) }
            if e.kind == EvaluationSpec.modelMetricKind {
                guard e.parameters.isEmpty, e.files.isEmpty else {
                    throw fail(m, "evaluations[\(j)]", "\"\(e.label)\"", "a model-metric column takes no parameters or files")
                }
                evaluations.append((e, files))
                continue
            }
            _ = try checked(m, "evaluations[\(j)].kind", parametersField: "evaluations[\(j)].parameters", kind: e.kind, shownAs: e.kind, parameters: e.parameters, files: Array(files.keys))
            guard (1...4096).contains(e.shards) else { throw fail(m, "evaluations[\(j)].shards", String(e.shards), "expected 1...4096") }
            if e.shards > 1, !EvaluationSharding.kinds.contains(e.kind) {
                throw fail(m, "evaluations[\(j)].shards", String(e.shards), "\(e.kind) cannot be split (only \(EvaluationSharding.kinds.joined(separator: ", ")))")
            }
            evaluations.append((e, files))
        }
        var cells: [String: StageSpec] = [:]
        for i in m.rows.indices {
            let model = try rowSpec(m, i, base: base)
            if m.rows[i].fineTuning != nil || m.rows[i].quantization != nil { cells[ReportLayout.modelInputName(row: m.rows[i].label)] = model }
            for (e, _) in evaluations where e.kind == EvaluationSpec.modelMetricKind {
                cells[ReportLayout.inputName(row: m.rows[i].label, column: e.label)] = model
            }
            for (e, files) in evaluations where e.kind != EvaluationSpec.modelMetricKind {
                cells[ReportLayout.inputName(row: m.rows[i].label, column: e.label)] = EvaluationSharding.split(StageSpec(
                    label: "\(m.id)/\(m.rows[i].label)/\(e.label)", kind: e.kind, parameters: e.parameters,
                    inputs: ["model": model], files: files), into: e.shards)
            }
        }
        let layout = try ReportLayout(m).parameters()
        return StageSpec(label: "\(m.id)/report", kind: ReportStage.kindName, parameters: layout, inputs: cells, files: [:])
    }
}
