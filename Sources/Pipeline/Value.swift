import Foundation

/// A manifest's stage parameter: a small JSON-like value written as a literal (`["rank": 16,
/// "targets": ["q", "v"]]`), read into the stage's typed settings by the planner
/// (`CanonicalSettings.read`), which hash into the key.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([Value])
    case map([String: Value])

    /// How error messages show the value (JSON-like; map keys sorted).
    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return d.description
        case .string(let s): return Self.quoted(s)
        case .bool(let b): return b ? "true" : "false"
        case .list(let l): return "[" + l.map(\.description).joined(separator: ",") + "]"
        case .map(let m):
            return "{" + m.keys.sorted().map { Self.quoted($0) + ":" + m[$0]!.description }.joined(separator: ",") + "}"
        }
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    public var listValue: [Value]? { if case .list(let l) = self { return l } else { return nil } }
    public var mapValue: [String: Value]? { if case .map(let m) = self { return m } else { return nil } }
}

extension Value: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(integerLiteral v: Int) { self = .int(v) }
    public init(floatLiteral v: Double) { self = .double(v) }
    public init(stringLiteral v: String) { self = .string(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
