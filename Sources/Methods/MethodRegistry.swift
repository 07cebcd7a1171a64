/// Every method qaft knows, one line each. A new method: one file conforming to `FineTuningMethod`
/// and one line here.
public enum MethodRegistry {
    public static let methods: [any FineTuningMethod.Type] = [
        PretrainedFP.self,
        LoRA.self,
        QLoRA.self,
        QLoRAUniform.self,
        LoftQ.self,
        QALoRA.self,
        LoTAQAF.self,
        RTN.self,
        GPTQMethod.self,
        OWQ.self,
        GPTQLoRA.self,
        QEFT.self,
        L4Q.self,
        QATLoRA.self,
        PEQA.self,
        FullQAT.self,
        OmniQuant.self,
    ]

    public static var names: [String] { methods.map { $0.name } }

    /// The method called `name`, configured with `options`.
    public static func make(_ name: String, options: MethodOptions) throws -> any FineTuningMethod {
        guard let type = methods.first(where: { $0.name == name }) else {
            throw MethodError.unknownMethod(name: name, known: names)
        }
        return try type.init(options: options)
    }

    /// The version string of `name`, for cache keys.
    public static func version(of name: String) throws -> String {
        guard let type = methods.first(where: { $0.name == name }) else {
            throw MethodError.unknownMethod(name: name, known: names)
        }
        return type.version
    }
}
