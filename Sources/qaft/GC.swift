import ArgumentParser
import Foundation
import Pipeline

/// `qaft gc`: removes what no result needs (orphan artifacts, leftovers of dead runs).
struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Remove unreferenced artifacts and leftovers of dead runs.")

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let c = try options.openCache().collectGarbage()
        print("removed \(c.artifacts) artifacts, \(c.staging) staging directories, \(c.checkpoints) finished checkpoints, \(c.claims) dead claims")
    }
}
