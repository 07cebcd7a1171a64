import Foundation

/// A JSON object read from a model file (config.json, a safetensors header, a shard index) with
/// typed field access whose errors name the file and the dotted field path.
struct JSONObject {
    let file: String
    /// Dotted path of this object inside the document ("" at the top), prefixed to field names.
    let path: String
    let fields: [String: Any]

    /// Parses `data` (found at byte `offset` of `file`) as a JSON object.
    init(data: Data, file: String, what: String, offset: Int = 0) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw ModelFormatError.corrupt(file: file, what: what, offset: offset, reason: "invalid JSON: \(reason)")
        }
        guard let fields = parsed as? [String: Any] else {
            throw ModelFormatError.corrupt(file: file, what: what, offset: offset, reason: "top level is not a JSON object")
        }
        self.init(file: file, path: "", fields: fields)
    }

    init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelFormatError.fileNotFound(file: url.path)
        }
        try self.init(data: data, file: url.path, what: "JSON")
    }

    private init(file: String, path: String, fields: [String: Any]) {
        self.file = file
        self.path = path
        self.fields = fields
    }

    func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    var keys: Dictionary<String, Any>.Keys { fields.keys }

    func has(_ key: String) -> Bool {
        if let v = fields[key] { return !(v is NSNull) }
        return false
    }

    /// The value at `key` converted by `get`; nil when absent or null, an error when of the wrong type.
    func optional<T>(_ key: String, _ kind: String, _ get: (Any) -> T?) throws -> T? {
        guard let v = fields[key], !(v is NSNull) else { return nil }
        guard let t = get(v) else {
            throw ModelFormatError.invalidConfig(file: file, field: field(key), reason: "expected \(kind), found \(v)")
        }
        return t
    }

    func required<T>(_ key: String, _ kind: String, _ get: (Any) -> T?) throws -> T {
        guard let t = try optional(key, kind, get) else { throw ModelFormatError.missingField(file: file, field: field(key)) }
        return t
    }

    func int(_ key: String) throws -> Int { try required(key, "an integer", Self.int) }
    func optionalInt(_ key: String) throws -> Int? { try optional(key, "an integer", Self.int) }
    func optionalDouble(_ key: String) throws -> Double? { try optional(key, "a number", Self.double) }
    func optionalBool(_ key: String) throws -> Bool? { try optional(key, "a boolean", Self.bool) }
    func string(_ key: String) throws -> String { try required(key, "a string", { $0 as? String }) }
    func optionalString(_ key: String) throws -> String? { try optional(key, "a string", { $0 as? String }) }
    func ints(_ key: String) throws -> [Int] {
        try required(key, "an array of integers", { v in
            guard let a = v as? [Any] else { return nil }
            let ints = a.compactMap(Self.int)
            return ints.count == a.count ? ints : nil
        })
    }

    func object(_ key: String) throws -> JSONObject {
        let f = try required(key, "an object", { $0 as? [String: Any] })
        return JSONObject(file: file, path: field(key), fields: f)
    }

    // Foundation bridges JSON booleans to NSNumber too; their ObjC type code 'c' tells them apart
    // from numbers, so `true` is never read as 1 or 1 as `true`.
    private static func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    private static func int(_ v: Any) -> Int? {
        guard let n = v as? NSNumber, !isBoolean(n) else { return nil }
        return v as? Int
    }

    private static func double(_ v: Any) -> Double? {
        guard let n = v as? NSNumber, !isBoolean(n) else { return nil }
        return n.doubleValue
    }

    private static func bool(_ v: Any) -> Bool? {
        guard let n = v as? NSNumber, isBoolean(n) else { return nil }
        return n.boolValue
    }
}
