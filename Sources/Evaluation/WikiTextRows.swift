/// The 4,358 rows of HF wikitext-2-raw-v1 test (Experiments/Data/wikitext2), in order; 1,467 are
/// empty strings, every other row ends in "\n".
enum WikiTextRows {
    static let file = "wikitext2/wikitext-2-raw-v1_test.jsonl"

    static func load(_ data: DataDirectory) throws -> [String] {
        struct Row: Decodable { let text: String }
        return try JSONLines.decode(Row.self, from: data.bytes(file), file: file).map(\.text)
    }
}
