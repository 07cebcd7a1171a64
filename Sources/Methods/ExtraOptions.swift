/// The method-specific numbers of `MethodOptions.extra`: unknown keys are rejected and every value
/// is range-checked, so a typo or a bad number fails with the option's name.
struct ExtraOptions {
    private let extra: [String: Double]

    init(_ extra: [String: Double], method: String, allowed: [String]) throws {
        for key in extra.keys.sorted() where !allowed.contains(key) {
            throw MethodError.invalidOption(option: "extra.\(key)", value: "\(extra[key]!)",
                                            reason: allowed.isEmpty ? "\(method) reads no extra options"
                                                : "\(method) reads only \(allowed.sorted().joined(separator: ", "))")
        }
        self.extra = extra
    }

    /// extra[key] or `fallback`, which must satisfy `valid` (described by `requirement`).
    func number(_ key: String, default fallback: Double, requirement: String, _ valid: (Double) -> Bool) throws -> Double {
        let v = extra[key] ?? fallback
        guard v.isFinite, valid(v) else {
            throw MethodError.invalidOption(option: "extra.\(key)", value: "\(v)", reason: "must be \(requirement)")
        }
        return v
    }

    /// A positive whole number.
    func count(_ key: String, default fallback: Int) throws -> Int {
        Int(try number(key, default: Double(fallback), requirement: "a positive integer") { $0 >= 1 && $0 == $0.rounded() })
    }

    /// A 0/1 switch.
    func flag(_ key: String) throws -> Bool {
        try number(key, default: 0, requirement: "0 or 1") { $0 == 0 || $0 == 1 } == 1
    }

    func base(default fallback: BaseQuantizer) throws -> BaseQuantizer {
        let v = try number("base", default: Double(fallback.rawValue), requirement: "0 (rtn) or 1 (gptq)") { $0 == 0 || $0 == 1 }
        return BaseQuantizer(rawValue: Int(v))!
    }
}
