import Foundation
import Models
import TestSupport
import XCTest

/// Helpers shared by the model-format tests: reference values written by the Python scripts in
/// Tests/Fixtures/formats, expected-error checks, and a byte builder for malformed files.
enum FormatFixtures {
    static func url(_ name: String) -> URL { Fixtures.url("Tests/Fixtures/formats/\(name)") }

    static func json(_ name: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url(name))) as? [String: Any])
    }

    /// `bytes` written to a fresh temporary file called `name`.
    static func write(_ bytes: Data, name: String, test: String = #function) throws -> URL {
        let u = try Fixtures.temporaryDirectory(test + name).appendingPathComponent(name)
        try bytes.write(to: u)
        return u
    }
}

/// Summary statistics of a tensor as the fixture scripts record them (see `summary` in the scripts).
struct TensorSummary {
    let shape: [Int]
    let sum: Double
    let absSum: Double
    let first: [Double]
    let last: [Double]

    init(_ any: Any?) throws {
        let d = try XCTUnwrap(any as? [String: Any])
        shape = try XCTUnwrap(d["shape"] as? [Int])
        sum = try XCTUnwrap(d["sum"] as? Double)
        absSum = try XCTUnwrap(d["abs_sum"] as? Double)
        first = try XCTUnwrap(d["first"] as? [Double])
        last = try XCTUnwrap(d["last"] as? [Double])
    }

    /// Checks `values` against the reference: sums to 1e-6 relative, sample values exactly as float32
    /// (the JSON holds them as doubles, and Foundation's parser may be a few double ulps off).
    func check(_ values: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(values.count, shape.reduce(1, *), "\(label) element count", file: file, line: line)
        let s = values.reduce(0.0) { $0 + Double($1) }
        let a = values.reduce(0.0) { $0 + abs(Double($1)) }
        XCTAssertEqual(s, sum, accuracy: 1e-6 * absSum, "\(label) sum", file: file, line: line)
        XCTAssertEqual(a, absSum, accuracy: 1e-6 * absSum, "\(label) |sum|", file: file, line: line)
        XCTAssertEqual(Array(values.prefix(first.count)), first.map(Float.init), "\(label) first values", file: file, line: line)
        XCTAssertEqual(Array(values.suffix(last.count)), last.map(Float.init), "\(label) last values", file: file, line: line)
    }
}

/// The `ModelFormatError` that `body` throws; fails the test if it succeeds or throws another error.
/// The message must name every string in `mentions` (the file, tensor or field).
@discardableResult
func expectFormatError(mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) -> ModelFormatError? {
    do {
        try body()
        XCTFail("expected a ModelFormatError, got success", file: file, line: line)
    } catch let e as ModelFormatError {
        for m in mentions {
            XCTAssertTrue(e.description.contains(m), "'\(e)' does not mention '\(m)'", file: file, line: line)
        }
        return e
    } catch {
        XCTFail("expected a ModelFormatError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Little-endian bytes of a hand-made GGUF file, for malformed inputs no writer would produce.
struct GGUFBytes {
    var data = Data()

    init(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
        data.append(contentsOf: Array("GGUF".utf8))
        u32(version)
        u64(tensors)
        u64(kvs)
    }

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func bytes(_ b: [UInt8]) { data.append(contentsOf: b) }
    mutating func string(_ s: String) { string(Array(s.utf8)) }
    mutating func string(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes(b)
    }

    /// A key/value pair of a scalar type: key, type tag, then the value's raw bytes.
    mutating func kv(_ key: String, type: UInt32, _ value: [UInt8]) {
        string(key)
        u32(type)
        bytes(value)
    }

    /// A tensor info entry: name, dimensions, ggml type, data offset relative to the data section.
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64 = 0) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Zero padding to the default 32-byte alignment, then `count` zero bytes of tensor data.
    mutating func alignedData(_ count: Int) {
        data.append(contentsOf: [UInt8](repeating: 0, count: (32 - data.count % 32) % 32 + count))
    }
}
