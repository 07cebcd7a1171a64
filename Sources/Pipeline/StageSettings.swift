import Foundation

/// A bad stage parameter: which one, what it was, what was expected.
public struct StageParameterError: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let value: String
    public let reason: String
    public var description: String { "\(field) = \(value): \(reason)" }

    public init(field: String, value: String, reason: String) {
        self.field = field
        self.value = value
        self.reason = reason
    }

    /// Refuses `value` (when set) outside `range`.
    static func require(_ field: String, _ value: Int?, in range: ClosedRange<Int>) throws {
        guard let value, !range.contains(value) else { return }
        throw StageParameterError(field: field, value: String(value), reason: "expected \(range.lowerBound)...\(range.upperBound)")
    }
}

/// A stage's settings in the one form every executor hands over: canonical JSON (sorted keys),
/// which a job decodes, and the same JSON split by top-level field, which the stage key hashes
/// (one key component per field, so `qaft why` names the field that changed).
public struct CanonicalSettings: Sendable, Equatable {
    public let json: Data
    public let fields: [String: String]

    /// `settings` encoded canonically.
    init<S: Encodable>(_ settings: S) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        json = try encoder.encode(settings)
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            preconditionFailure("stage settings must encode as a JSON object")
        }
        fields = try object.mapValues { v in
            String(decoding: try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]),
                   as: UTF8.self)
        }
    }

    /// Decodes the settings a planner encoded (a job's input).
    public func decode<S: Decodable>(_ type: S.Type) throws -> S {
        try JSONDecoder().decode(S.self, from: json)
    }

    /// Reads the typed settings of a stage from a manifest's parameters: every error names the
    /// field and the value (`StageParameterError`), a parameter the settings have no field for is
    /// refused (a misspelt one would otherwise be ignored while changing the key), and a number
    /// is a number: `16` and `16.0` are the same learning rate, and the same key.
    static func read<S: Codable>(_ type: S.Type, from parameters: [String: Value]) throws -> S {
        let data = try JSONSerialization.data(withJSONObject: parameters.mapValues(\.json), options: [.sortedKeys])
        let settings: S
        do { settings = try JSONDecoder().decode(S.self, from: data) } catch let e as DecodingError {
            throw Self.error(e, parameters)
        }
        let known = try CanonicalSettings(settings).fields.keys
        for name in parameters.keys.sorted() where !known.contains(name) {
            let names = Mirror(reflecting: settings).children.compactMap(\.label).sorted()
            throw StageParameterError(field: name, value: parameters[name]!.description,
                                      reason: "unknown parameter (known: \(names.joined(separator: ", ")))")
        }
        return settings
    }

    private static func error(_ e: DecodingError, _ parameters: [String: Value]) -> StageParameterError {
        func field(_ path: [CodingKey]) -> String {
            path.reduce("") { s, k in k.intValue.map { s + "[\($0)]" } ?? (s.isEmpty ? k.stringValue : s + "." + k.stringValue) }
        }
        func value(_ path: [CodingKey]) -> String {
            var v: Value? = .map(parameters)
            for k in path { v = k.intValue.flatMap { i in v?.listValue.flatMap { i < $0.count ? $0[i] : nil } } ?? v?.mapValue?[k.stringValue] }
            return v?.description ?? "(missing)"
        }
        switch e {
        case .keyNotFound(let key, let c):
            return StageParameterError(field: field(c.codingPath + [key]), value: "(missing)", reason: "required")
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return StageParameterError(field: field(c.codingPath), value: value(c.codingPath), reason: "expected \(Self.name(type))")
        case .dataCorrupted(let c):
            return StageParameterError(field: field(c.codingPath), value: value(c.codingPath), reason: c.debugDescription)
        @unknown default:
            return StageParameterError(field: "", value: "", reason: "\(e)")
        }
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default: return "\(type)"
        }
    }
}

extension Value {
    /// The JSON value (for `JSONSerialization`).
    var json: Any {
        switch self {
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .bool(let b): return b
        case .list(let l): return l.map(\.json)
        case .map(let m): return m.mapValues(\.json)
        }
    }
}
