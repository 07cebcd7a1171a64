import ArgumentParser
import Foundation
import Models

/// `qaft tokenize`: the token ids of a text file, printed as llama.cpp's `llama-tokenize --ids`
/// prints them, so a tokenizer's agreement with llama.cpp's is a plain text comparison.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Token ids of a text file, in llama-tokenize --ids's format (BOS first when the model's tokenizer adds it).")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "UTF-8 text file.")
    var file: String

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(file): file not found or unreadable")
        }
        let tok = try ModelLoader.loadTokenizer(URL(fileURLWithPath: modelOptions.model),
                                                tokenizer: modelOptions.tokenizer.map { URL(fileURLWithPath: $0) })
        let ids = tok.encode(String(decoding: data, as: UTF8.self), addBOS: tok.addsBOSByDefault)
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
