import ArgumentParser
import Experiments
import Foundation
import Pipeline

/// `qaft why <target>`: which key component of which stage changed since the target's last run.
struct Why: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Name what changed in a target's stage keys since its last run.")

    @Argument(help: "Target: \(Catalog.names.joined(separator: ", ")).")
    var target: String

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let plan = try options.plan(target)
        let differences = try PlanInspection(cache: try options.openCache(), plan: plan).why(target: target)
        if differences.isEmpty { print("nothing changed since the last run of \(target) (\(options.profile.rawValue) profile)") }
        for d in differences {
            guard let changes = d.changes else {
                print("\(d.label): new stage (not in the last run)")
                continue
            }
            for c in changes { print("\(d.label): \(c)") }
            for u in d.upstream { print("\(d.label): input changed because \(u) changed") }
        }
    }
}
