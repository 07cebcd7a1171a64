import ArgumentParser
import Foundation
import Pipeline

/// `qaft check`: verifies the cache (database integrity, keys, artifact digests); exits 1 on corruption.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Verify the cache's integrity.")

    @OptionGroup var options: PipelineOptions

    func run() throws {
        let problems = try options.openCache().check()
        for p in problems { print(p) }
        let corrupt = problems.filter(\.isCorruption).count
        print(corrupt == 0 ? "cache is sound (\(problems.count) leftovers for gc)" : "\(corrupt) corrupt entries")
        if corrupt > 0 { throw ExitCode(1) }
    }
}
