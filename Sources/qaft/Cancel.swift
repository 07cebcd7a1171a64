import ArgumentParser
import Foundation
import Pipeline

/// `qaft cancel TARGET`: cancels the Slurm jobs computing the target's stages.
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel the Slurm jobs of a target's stages.")

    @Argument(help: "Target whose jobs to cancel.")
    var target: String

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let ids = try SlurmExecutor.cancel(try options.plan(target))
        print(ids.isEmpty ? "no queued job of \(target)" : "cancelled \(ids.count) jobs: \(ids.joined(separator: " "))")
    }
}
