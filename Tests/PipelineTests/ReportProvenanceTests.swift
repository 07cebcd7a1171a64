import Foundation
@testable import Pipeline
import XCTest

final class ReportProvenanceTests: XCTestCase {
    /// A checkout whose only changes are reports' outputs is the committed code; a changed source is not.
    func testReportOutputsDoNotMarkTheCommitModified() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-provenance-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        for sub in ["Results", "Figures", "Sources"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
            try "a\n".write(to: dir.appendingPathComponent(sub + "/file"), atomically: true, encoding: .utf8)
        }
        for args in [["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]] {
            XCTAssertNotNil(ReportProvenance.git(args, in: dir), "git \(args) failed")
        }
        let head = ReportProvenance.commit(in: dir)
        XCTAssertEqual(head.count, 40, head)
        for sub in ["Results", "Figures"] { try "b\n".write(to: dir.appendingPathComponent(sub + "/file"), atomically: true, encoding: .utf8) }
        // From a subfolder too: the paths are the checkout's, not the working directory's.
        XCTAssertEqual(ReportProvenance.commit(in: dir.appendingPathComponent("Results")), head)
        try "b\n".write(to: dir.appendingPathComponent("Sources/file"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ReportProvenance.commit(in: dir), head + "+modified")
    }
}
