import Foundation

/// A value inside a parsed JSON file with its path ("pre_tokenizer.pretokenizers[0].pattern"), so
/// that every error of the tokenizer.json reader names the file, the field and the value found.
struct JSONNode {
    let file: String
    let path: String
    let value: Any

    /// The top-level object of the JSON file at `url`.
    static func document(_ url: URL) throws -> JSONNode {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ModelFormatError.fileNotFound(file: url.path) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: escapingByteOrderMarks(data))
        } catch {
            throw ModelFormatError.corrupt(file: url.path, what: "JSON", offset: 0, reason: "\(error)")
        }
        guard parsed is [String: Any] else {
            throw ModelFormatError.corrupt(file: url.path, what: "JSON", offset: 0, reason: "the top level is not an object")
        }
        return JSONNode(file: url.path, path: "", value: parsed)
    }

    /// `data` with every U+FEFF written as the escape `\ufeff` (a leading one, a byte order mark,
    /// dropped): Foundation's JSONSerialization on Linux drops a U+FEFF that starts a string
    /// (SentencePiece vocabularies have the piece "\u{FEFF}"), but keeps the escaped form.
    private static func escapingByteOrderMarks(_ data: Data) -> Data {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        var bytes = [UInt8](data)
        if bytes.starts(with: bom) { bytes.removeFirst(3) }
        guard bytes.indices.dropLast(2).contains(where: { bytes[$0] == 0xEF && bytes[$0 + 1] == 0xBB && bytes[$0 + 2] == 0xBF }) else {
            return Data(bytes)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0xEF, i + 2 < bytes.count, bytes[i + 1] == 0xBB, bytes[i + 2] == 0xBF {
                out.append(contentsOf: Array(#"\ufeff"#.utf8))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return Data(out)
    }

    /// The field `key` of this object; nil when absent or null (or when this is not an object).
    subscript(key: String) -> JSONNode? {
        guard let v = (value as? [String: Any])?[key], !(v is NSNull) else { return nil }
        return JSONNode(file: file, path: path.isEmpty ? key : "\(path).\(key)", value: v)
    }

    /// The field `key`, which must be present and not null.
    func required(_ key: String) throws -> JSONNode {
        guard let n = self[key] else { throw ModelFormatError.missingField(file: file, field: path.isEmpty ? key : "\(path).\(key)") }
        return n
    }

    /// The error for this value: `reason` says what is wrong with it.
    func invalid(_ reason: String) -> ModelFormatError {
        .invalidConfig(file: file, field: path, reason: reason)
    }

    /// This object's entries in key order.
    func entries() throws -> [(key: String, node: JSONNode)] {
        guard let o = value as? [String: Any] else { throw invalid("expected an object, found \(kind)") }
        return o.keys.sorted().map { ($0, JSONNode(file: file, path: "\(path)[\"\($0)\"]", value: o[$0]!)) }
    }

    func array() throws -> [JSONNode] {
        guard let a = value as? [Any] else { throw invalid("expected an array, found \(kind)") }
        return a.enumerated().map { JSONNode(file: file, path: "\(path)[\($0)]", value: $1) }
    }

    func string() throws -> String {
        guard let s = value as? String else { throw invalid("expected a string, found \(kind)") }
        return s
    }

    func int() throws -> Int {
        // JSON booleans are NSNumbers too; their Objective-C type code is "c".
        guard let n = value as? NSNumber, !isBoolean, let i = Int(exactly: n.doubleValue), i >= 0 else {
            throw invalid("expected a non-negative integer, found \(kind)")
        }
        return i
    }

    func double() throws -> Double {
        guard let n = value as? NSNumber, !isBoolean else { throw invalid("expected a number, found \(kind)") }
        return n.doubleValue
    }

    func bool() throws -> Bool {
        guard let n = value as? NSNumber, isBoolean else { throw invalid("expected true or false, found \(kind)") }
        return n.boolValue
    }

    private var isBoolean: Bool { (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false }

    /// The value as messages show it: strings quoted, containers by kind.
    var kind: String {
        switch value {
        case let s as String: return "'\(s)'"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(value)"
        }
    }
}
