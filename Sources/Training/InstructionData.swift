import Foundation

/// One supervised example: the prompt the model reads and the response it learns to write.
public struct InstructionExample: Equatable, Sendable {
    public var prompt: String
    public var response: String

    public init(prompt: String, response: String) {
        self.prompt = prompt
        self.response = response
    }
}

/// Readers for the instruction data sets qaft trains on, each with its prompt template.
public enum InstructionData {
    /// What a data file holds and how its records become prompts.
    public enum Format: String, CaseIterable, Codable, Sendable {
        /// A JSON array of {instruction, input?, output} (Stanford Alpaca), Alpaca's template.
        case alpaca
        /// JSON Lines of {question, answer} (GSM8K): "Question: …\nAnswer: " → the worked answer.
        case gsm8k
        /// Plain text, examples separated by blank lines, every token scored (language modelling).
        case text
    }

    /// Reads `url` as `format`. Errors name the file, the line and the field.
    public static func load(_ url: URL, format: Format) throws -> [InstructionExample] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError.dataFileNotFound(file: url.path)
        }
        let examples: [InstructionExample]
        switch format {
        case .alpaca: examples = try alpaca(data, file: url.path)
        case .gsm8k: examples = try gsm8k(data, file: url.path)
        case .text: examples = text(String(decoding: data, as: UTF8.self))
        }
        if examples.isEmpty { throw TrainingError.emptyDataset(file: url.path, reason: "the file holds no records") }
        return examples
    }

    /// Alpaca's standard template (tatsu-lab/stanford_alpaca), with or without an input.
    public static func alpacaPrompt(instruction: String, input: String) -> String {
        if input.isEmpty {
            return "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
                + "### Instruction:\n\(instruction)\n\n### Response:\n"
        }
        return "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\n\(instruction)\n\n### Input:\n\(input)\n\n### Response:\n"
    }

    public static func gsm8kPrompt(question: String) -> String { "Question: \(question)\nAnswer: " }

    static func alpaca(_ data: Data, file: String) throws -> [InstructionExample] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TrainingError.malformedData(file: file, line: syntaxErrorLine(error), field: "(json)",
                                              reason: "invalid JSON: \(debugDescription(error))")
        }
        guard let records = parsed as? [Any] else {
            throw TrainingError.malformedData(file: file, line: 1, field: "(json)", reason: "top level is not a JSON array")
        }
        let lines = recordStartLines(data)
        return try records.enumerated().map { i, r in
            let line = i < lines.count ? lines[i] : 0
            guard let o = r as? [String: Any] else {
                throw TrainingError.malformedData(file: file, line: line, field: "[\(i)]", reason: "record is not an object")
            }
            func string(_ key: String, optional: Bool = false) throws -> String {
                if optional && (o[key] == nil || o[key] is NSNull) { return "" }
                guard let v = o[key] else { throw TrainingError.malformedData(file: file, line: line, field: key, reason: "missing") }
                guard let s = v as? String else {
                    throw TrainingError.malformedData(file: file, line: line, field: key, reason: "expected a string")
                }
                return s
            }
            return InstructionExample(prompt: alpacaPrompt(instruction: try string("instruction"), input: try string("input", optional: true)),
                                      response: try string("output"))
        }
    }

    static func gsm8k(_ data: Data, file: String) throws -> [InstructionExample] {
        struct Record: Decodable { var question: String; var answer: String }
        var out: [InstructionExample] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            do {
                let r = try JSONDecoder().decode(Record.self, from: Data(line.utf8))
                out.append(InstructionExample(prompt: gsm8kPrompt(question: r.question), response: r.answer))
            } catch let DecodingError.keyNotFound(key, _) {
                throw TrainingError.malformedData(file: file, line: i + 1, field: key.stringValue, reason: "missing")
            } catch let DecodingError.typeMismatch(_, ctx) {
                throw TrainingError.malformedData(file: file, line: i + 1, field: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                                                  reason: "expected a string")
            } catch let DecodingError.valueNotFound(_, ctx) {
                throw TrainingError.malformedData(file: file, line: i + 1, field: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                                                  reason: "null where a string is required")
            } catch {
                throw TrainingError.malformedData(file: file, line: i + 1, field: "(json)", reason: "invalid JSON: \(debugDescription(error))")
            }
        }
        return out
    }

    static func text(_ s: String) -> [InstructionExample] {
        s.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }.map { InstructionExample(prompt: "", response: $0) }
    }

    /// The 1-based line where each top-level array element starts, found by a scan that skips strings.
    static func recordStartLines(_ data: Data) -> [Int] {
        var lines: [Int] = [], line = 1, depth = 0, inString = false, escaped = false, expecting = false
        for b in data {
            if b == UInt8(ascii: "\n") { line += 1 }
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            if depth == 1 && expecting && !(b == 32 || b == 9 || b == 10 || b == 13) {
                lines.append(line)
                expecting = false
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 1 { expecting = true }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expecting = true }
            default: break
            }
        }
        return lines
    }

    private static func debugDescription(_ error: Error) -> String {
        (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
    }

    /// The line a JSON syntax error reports ("… line 3, column 5"), or 0 when it names none.
    private static func syntaxErrorLine(_ error: Error) -> Int {
        let d = debugDescription(error)
        guard let r = d.range(of: "line ") else { return 0 }
        return Int(d[r.upperBound...].prefix { $0.isNumber }) ?? 0
    }
}
