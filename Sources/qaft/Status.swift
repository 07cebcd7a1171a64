import ArgumentParser
import Experiments
import Foundation
import Pipeline

/// `qaft status <target>`: what is cached, what is running, what would run.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show which stages of a target are cached and which would run.")

    @Argument(help: "Target: \(Catalog.names.joined(separator: ", ")), or all.")
    var target: String

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let inspection = PlanInspection(cache: try options.openCache(), plan: try options.plan(target))
        var toRun = 0
        for (stage, state) in try inspection.status() {
            let text: String
            switch state {
            case .cached(let s): text = String(format: "cached (%.2fs)", s)
            case .running(let pid): text = "running in process \(pid)"
            case .wouldRun(let resumable): text = resumable ? "would resume from a checkpoint" : "would run"; toRun += 1
            }
            print("\(stage.key.short)  \(stage.label)  [\(stage.kind)]  \(text)")
        }
        print("\(toRun) of \(inspection.plan.stages.count) stages would run")
    }
}
