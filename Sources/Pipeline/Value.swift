import Foundation

/// A stage parameter: a small JSON-like value with one canonical spelling, so equal parameters
/// always hash to the same stage key (map keys sorted, doubles in Swift's shortest round-trip
/// form, which keeps `2.0` distinct from the integer `2`).
public enum Value: Hashable, Sendable, Codable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([Value])
    case map([String: Value])

    /// The canonical spelling hashed into keys and shown by `qaft why`.
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

    public var intValue: Int? { if case .int(let i) = self { return i } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var listValue: [Value]? { if case .list(let l) = self { return l } else { return nil } }
    public var mapValue: [String: Value]? { if case .map(let m) = self { return m } else { return nil } }
    /// Integers widen to Double (a learning rate may be written `1`).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    // Tagged coding: plain JSON would read `2.0` back as an integer and change the key.
    private enum Tag: String, Codable { case int, double, string, bool, list, map }
    private enum CodingKeys: String, CodingKey { case tag = "t", value = "v" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(Tag.self, forKey: .tag) {
        case .int: self = .int(try c.decode(Int.self, forKey: .value))
        case .double: self = .double(try c.decode(Double.self, forKey: .value))
        case .string: self = .string(try c.decode(String.self, forKey: .value))
        case .bool: self = .bool(try c.decode(Bool.self, forKey: .value))
        case .list: self = .list(try c.decode([Value].self, forKey: .value))
        case .map: self = .map(try c.decode([String: Value].self, forKey: .value))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .int(let i): try c.encode(Tag.int, forKey: .tag); try c.encode(i, forKey: .value)
        case .double(let d): try c.encode(Tag.double, forKey: .tag); try c.encode(d, forKey: .value)
        case .string(let s): try c.encode(Tag.string, forKey: .tag); try c.encode(s, forKey: .value)
        case .bool(let b): try c.encode(Tag.bool, forKey: .tag); try c.encode(b, forKey: .value)
        case .list(let l): try c.encode(Tag.list, forKey: .tag); try c.encode(l, forKey: .value)
        case .map(let m): try c.encode(Tag.map, forKey: .tag); try c.encode(m, forKey: .value)
        }
    }
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
