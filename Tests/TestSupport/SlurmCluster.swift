import Foundation

/// A two-node Slurm cluster (`n1`, `n2`, both this host) started by `.ci/slurm-cluster` in a
/// temporary folder for the tests of the Slurm executor, and stopped (its folder removed) by `stop()`. Slurm's client
/// commands find it through `SLURM_CONF`, which `start` sets for this process and its children.
public final class SlurmCluster {
    public let directory: URL

    /// Starts the cluster; fails with the script's message (e.g. Slurm or munge not installed:
    /// `make test` installs them).
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-slurm-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: directory)
        let output = try Self.script(["start", directory.path])
        guard output.status == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: ".ci/slurm-cluster start failed: \(output.text)"])
        }
        setenv("SLURM_CONF", directory.appendingPathComponent("slurm.conf").path, 1)
    }

    public func stop() {
        _ = try? Self.script(["stop", directory.path])
        unsetenv("SLURM_CONF")
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs the script with its output in a file: a pipe would stay open as long as any daemon
    /// it starts inherited a descriptor of it.
    private static func script(_ arguments: [String]) throws -> (status: Int32, text: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("qaft-slurm-cluster-\(ProcessInfo.processInfo.processIdentifier).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let p = Process()
        p.executableURL = Fixtures.url(".ci/slurm-cluster")
        p.arguments = arguments
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
