import Foundation
import TestSupport
import XCTest

/// Runs the built `qaft` executable (it sits beside the test bundle in the build products
/// directory) from the repository root.
enum QaftProcess {
    static func executable() throws -> URL {
        let fm = FileManager.default
        var dirs = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        for b in Bundle.allBundles { dirs += [b.bundleURL, b.bundleURL.deletingLastPathComponent()] }
        for d in dirs {
            let u = d.appendingPathComponent("qaft")
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: u.path, isDirectory: &isDirectory), !isDirectory.boolValue, fm.isExecutableFile(atPath: u.path) {
                return u
            }
        }
        XCTFail("qaft executable not found beside the test bundle (searched \(dirs.map(\.path))); build with --build-tests")
        throw CocoaError(.fileNoSuchFile)
    }

    /// Starts `qaft args…` (stderr to `log`, stdout too unless `stdout` names its own file), with
    /// `environment` added to this process's.
    static func start(_ args: [String], log: URL, stdout: URL? = nil, environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = try executable()
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.currentDirectoryURL = Fixtures.root
        func handle(_ url: URL) throws -> FileHandle {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
            return try FileHandle(forWritingTo: url)
        }
        let h = try handle(log)
        p.standardOutput = try stdout.map(handle) ?? h
        p.standardError = h
        try p.run()
        return p
    }

    /// Runs `qaft args…` to completion; returns the exit status.
    @discardableResult
    static func run(_ args: [String], log: URL, stdout: URL? = nil, environment: [String: String] = [:]) throws -> Int32 {
        let p = try start(args, log: log, stdout: stdout, environment: environment)
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// `reproduce tinytable` on `cache`, writing reports under `output`.
    static func reproduceTiny(cache: URL, output: URL) -> [String] {
        ["reproduce", "tinytable", "--profile", "tiny", "--cache", cache.path, "--output", output.path, "--quiet"]
    }

    static func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
}
