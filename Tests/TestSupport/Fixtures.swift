import Foundation
import XCTest

/// Where test inputs live. Everything a test reads is inside the repository (Tests/Fixtures,
/// Experiments/Data) except the default model, which `make setup` fetches into `.cache/models/`.
public enum Fixtures {
    /// The repository root, found from this file's location.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// The JSON fixture at `relative` (repository-relative), decoded.
    public static func json<T: Decodable>(_ relative: String, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(relative)))
    }

    public static var stories260K: URL { url("Tests/Fixtures/stories260K/stories260K.bin") }
    public static var stories260KTokenizer: URL { url("Tests/Fixtures/stories260K/tok512.bin") }

    /// SmolLM2-135M-Instruct Q4_1 GGUF. Tests that need it fail (never skip) when it is absent, so a
    /// CI run without the model cannot pass silently.
    public static func smolLM2() throws -> URL {
        let env = ProcessInfo.processInfo.environment["QAFT_SMOLLM2"]
        let u = env.map { URL(fileURLWithPath: $0) } ?? url(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("SmolLM2-135M-Instruct GGUF not found at \(u.path): run `make setup` (or set QAFT_SMOLLM2)")
            throw CocoaError(.fileNoSuchFile)
        }
        return u
    }

    /// A complete Hugging Face folder of a tiny model family of Tests/Fixtures/families (llama3,
    /// llama2, mistral, qwen2): its bf16 weights, its config in `layout` (`config.json`, the 5.x
    /// layout, `config.v4.json`, or qwen2's `config.sliding[.v4].json`) as config.json, and its real
    /// tokenizer (Llama 3's byte-level BPE for llama3, Mistral 7B's SentencePiece for the others).
    public static func familyFolder(_ family: String, layout: String = "config.json", _ name: String = #function) throws -> URL {
        let dir = try temporaryDirectory(name + family + layout)
        let fm = FileManager.default
        let source = url("Tests/Fixtures/families/\(family)")
        try fm.copyItem(at: source.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        try fm.copyItem(at: source.appendingPathComponent(layout), to: dir.appendingPathComponent("config.json"))
        let tokenizer = url("Tests/Fixtures/tokenizers/\(family == "llama3" ? "llama3" : "mistral")")
        for f in ["tokenizer.json", "tokenizer_config.json"] {
            try fm.copyItem(at: tokenizer.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    /// A scratch directory unique to one test, removed when that test finishes (`ScratchJanitor`):
    /// the suite's caches hold model copies, and a run that kept them all would need gigabytes.
    public static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let d = ScratchJanitor.shared.root.appendingPathComponent(name.filter { $0.isLetter || $0.isNumber })
        try? FileManager.default.removeItem(at: d)
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        ScratchJanitor.shared.track(d)
        return d
    }
}

/// Removes each test's scratch directories once the test has finished (after its tearDown), and
/// the process's scratch root when the bundle ends, so a run's disk use is that of its largest
/// test rather than the sum of all of them.
final class ScratchJanitor: NSObject, XCTestObservation, @unchecked Sendable {
    static let shared: ScratchJanitor = {
        let janitor = ScratchJanitor()
        XCTestObservationCenter.shared.addTestObserver(janitor)
        return janitor
    }()

    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("qaft-tests-\(ProcessInfo.processInfo.processIdentifier)")
    private let lock = NSLock()
    private var directories: [URL] = []

    func track(_ directory: URL) { lock.withLock { directories.append(directory) } }

    func testCaseDidFinish(_ testCase: XCTestCase) {
        let finished = lock.withLock { () -> [URL] in defer { directories = [] }; return directories }
        for d in finished { try? FileManager.default.removeItem(at: d) }
    }

    func testBundleDidFinish(_ testBundle: Bundle) { try? FileManager.default.removeItem(at: root) }
}
