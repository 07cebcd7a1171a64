/// RFC-4180 CSV as the MMLU files use it: no header, fields optionally double-quoted, a quoted field
/// may hold commas, newlines and doubled quotes (""). Records end at LF or CRLF outside quotes.
public enum CSV {
    /// One parsed record and the 1-based line on which it starts (for error messages).
    public struct Record: Sendable {
        public let line: Int
        public let fields: [String]
    }

    /// Parses `text`; `file` only names the source in errors. A quote inside an unquoted field, text
    /// after a closing quote, or an unterminated quote is a `malformedRecord` naming line and column.
    public static func parse(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, recordLine = 1, quoted = false, afterQuote = false
        let bytes = Array(text.utf8)
        var i = 0
        func finishField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterQuote = false
        }
        func fail(_ why: String) -> EvaluationError {
            .malformedRecord(file: file, line: line, field: "column \(fields.count + 1)", reason: why)
        }
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") { field.append(c); i += 1 }
                    else { quoted = false; afterQuote = true }
                } else {
                    if c == UInt8(ascii: "\n") { line += 1 }
                    field.append(c)
                }
            } else if c == UInt8(ascii: ",") {
                finishField()
            } else if c == UInt8(ascii: "\n") || (c == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n")) {
                if c == UInt8(ascii: "\r") { i += 1 }
                finishField()
                records.append(Record(line: recordLine, fields: fields))
                fields.removeAll()
                line += 1
                recordLine = line
            } else if afterQuote {
                throw fail("unexpected character after closing quote")
            } else if c == UInt8(ascii: "\"") {
                guard field.isEmpty else { throw fail("quote inside an unquoted field") }
                quoted = true
            } else {
                field.append(c)
            }
            i += 1
        }
        if quoted { throw fail("unterminated quoted field (opened on line \(recordLine) or later)") }
        if !fields.isEmpty || !field.isEmpty || afterQuote {
            finishField()
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}
