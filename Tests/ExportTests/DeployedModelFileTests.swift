import Export
import Foundation
import Methods
import Models
import Quantization
import Tensor
import TestSupport
import XCTest

/// The deployed form of each kind of method export survives the deployed-model file bit for bit
/// and computes what the method's export computed.
final class DeployedModelFileTests: XCTestCase {
    func roundTrip(_ method: String, _ options: MethodOptions = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8),
                   expecting kind: (DeployedLayer) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let exported = try TinyExportModel.exported(method, options)
        let deployed = try DeployedModel(exported.model)
        XCTAssertTrue(deployed.layers.allSatisfy { $0.values.allSatisfy(kind) }, "\(method): unexpected layer kinds", file: file, line: line)
        let url = try Fixtures.temporaryDirectory(#function + method).appendingPathComponent("deployed.gguf")
        try DeployedModelFile.write(deployed, to: url, metadata: TinyExportModel.tokenizer)
        let read = try DeployedModelFile.read(url)
        for l in deployed.layers.indices {
            for site in Projection.allCases { XCTAssertEqual(read.layers[l][site], deployed.layers[l][site], "\(method) \(l) \(site)", file: file, line: line) }
        }
        XCTAssertEqual(read.weights.tokenEmbedding, deployed.weights.tokenEmbedding, file: file, line: line)
        // Packed and dense kernels sum in different orders: equal up to float rounding.
        let difference = try logitDifference(exported.model, try read.llama())
        XCTAssertLessThan(difference, 1e-4, "\(method): read-back model computes another function", file: file, line: line)
    }

    func testGridMethodsRoundTrip() throws {
        for method in ["rtn", "gptq", "l4q", "lota-qaf"] {
            try roundTrip(method) { if case .grid = $0.base, $0.adapter == nil { return true } else { return false } }
        }
        // Asymm-initialized L4Q has fractional zeros: its deployable grids carry offsets, which the file keeps.
        try roundTrip("l4q", TinyExportModel.fractionalL4Q) {
            if case .grid(let q) = $0.base, $0.adapter == nil, q.offsets != nil { return true } else { return false }
        }
    }

    func testAdapterRowRoundTrips() throws {
        try roundTrip("qlora-uniform") { if case .grid = $0.base, $0.adapter != nil { return true } else { return false } }
    }

    func testMixedAndNF4RoundTrip() throws {
        var qeft = MethodOptions(bits: 4, groupSize: 32, rank: 4, alpha: 8)
        qeft.weakColumns = 4
        qeft.extra = ["minMaxGrid": 1]
        try roundTrip("qeft", qeft) { if case .mixed = $0.base { return true } else { return false } }
        try roundTrip("qlora") { if case .nf4 = $0.base, $0.adapter != nil { return true } else { return false } }
    }

    func testForeignAndTruncatedFilesAreRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        let foreign = dir.appendingPathComponent("float.gguf")
        var w = try TinyExportModel.weights().ggufWriter()
        for (k, v) in TinyExportModel.tokenizer { w.set(k, v) }
        try w.write(to: foreign)
        XCTAssertThrowsError(try DeployedSource.read(foreign)) { e in
            XCTAssertTrue("\(e)".contains("neither a qaft deployed model"), "\(e)")
        }
        let deployed = dir.appendingPathComponent("deployed.gguf")
        try DeployedModelFile.write(try DeployedModel(try TinyExportModel.exported("rtn").model), to: deployed, metadata: TinyExportModel.tokenizer)
        let bytes = try Data(contentsOf: deployed)
        let truncated = dir.appendingPathComponent("truncated.gguf")
        try bytes.prefix(bytes.count - 1000).write(to: truncated)
        XCTAssertThrowsError(try DeployedSource.read(truncated)) { e in
            XCTAssertTrue("\(e)".contains(truncated.path), "\(e)")
        }
    }
}
