import Foundation

/// JSON Lines: one JSON object per line. Each line decodes into a `Decodable` record; a syntax error,
/// a missing key or a wrong type becomes a `malformedRecord` naming the line and the field.
public enum JSONLines {
    /// Decodes every line of `bytes` (UTF-8; a final newline is optional). Lines are cut on the
    /// newline byte, which never occurs inside a multi-byte UTF-8 sequence.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], file: String) throws -> [T] {
        let decoder = JSONDecoder()
        var out: [T] = []
        var lineNumber = 0, start = 0
        while start < bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            guard end > start else {
                throw EvaluationError.malformedRecord(file: file, line: lineNumber, field: "(line)", reason: "empty line")
            }
            do {
                out.append(try decoder.decode(T.self, from: Data(bytes[start..<end])))
            } catch let error as DecodingError {
                throw describe(error, file: file, line: lineNumber)
            }
            start = end + 1
        }
        return out
    }

    private static func describe(_ error: DecodingError, file: String, line: Int) -> EvaluationError {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return .malformedRecord(file: file, line: line, field: path(ctx.codingPath + [key]), reason: "missing")
        case .typeMismatch(let type, let ctx):
            return .malformedRecord(file: file, line: line, field: path(ctx.codingPath), reason: "expected \(type)")
        case .valueNotFound(let type, let ctx):
            return .malformedRecord(file: file, line: line, field: path(ctx.codingPath), reason: "null where \(type) is required")
        case .dataCorrupted(let ctx):
            let field = ctx.codingPath.isEmpty ? "(json)" : path(ctx.codingPath)
            return .malformedRecord(file: file, line: line, field: field, reason: "invalid JSON or value: \(ctx.debugDescription)")
        @unknown default:
            return .malformedRecord(file: file, line: line, field: "(json)", reason: "\(error)")
        }
    }
}
