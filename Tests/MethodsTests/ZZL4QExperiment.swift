import Foundation
@testable import Methods
import Models
import Quantization
import Tensor
import TestSupport
import Training
import XCTest

final class ZZL4QExperiment: XCTestCase {
    func testSweep() throws {
        let run = try MethodRun.smolLM2Alpaca(count: 300)
        let (tokens, prefix) = try L4QTests.wikiText(run.loaded.tokenizer, windows: 8, window: 512)
        func ppl(_ m: Llama) throws -> Double { try m.windowedNLL(tokens, window: 512, prefix: prefix).perplexity }
        let rtnQ = try UniformQuantizer(bits: 3, grid: .asymmetric)
        print("EXP RTN", try ppl(Llama(try run.loaded.weights.mapLinears { _, w in try rtnQ.fakeQuantize(w, groupSize: 64) })))
        let configs: [(Double, Float, Int, Int)] = ProcessInfo.processInfo.environment["EXP"]!.split(separator: ";").map {
            let f = $0.split(separator: ","); return (Double(f[0])!, Float(f[1])!, Int(f[2])!, Int(f[3])!)
        }
        for (initKind, lr, steps, rank) in configs {
            let method = try L4Q(options: MethodOptions(bits: 3, groupSize: 64, rank: max(rank, 1), alpha: 2 * Float(max(rank, 1)),
                                                        targets: rank == 0 ? [] : Projection.allCases, extra: ["init": initKind]))
            let t = try run.trainer(method, steps: max(steps, 1), batch: 4, learningRate: lr)
            let t0 = Date()
            let before = try t.evaluate(run.heldOut).meanNLL
            if steps > 0 { try t.run() }
            let after = try t.evaluate(run.heldOut).meanNLL
            let e = try method.export(t.model)
            print("EXP init \(initKind) lr \(lr) steps \(steps) rank \(rank): heldout \(before) -> \(after) ppl \(try ppl(e.model)) time \(Date().timeIntervalSince(t0))")
        }
    }
}
