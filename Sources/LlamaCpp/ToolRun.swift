import Foundation

/// One run of a llama.cpp tool: what it printed on stdout, and its log (stderr), which goes
/// through a file because a pipe it filled would block it. A non-zero exit throws a
/// `LlamaBench.Failure` naming the tool, its arguments, its status and the end of its log.
enum ToolRun {
    static func run(_ executable: URL, _ arguments: [String]) throws -> (output: Data, log: String) {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(executable.lastPathComponent)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: logFile) }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: logFile)
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let log = String(decoding: (try? Data(contentsOf: logFile)) ?? Data(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw LlamaBench.Failure("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) exited with status "
                                     + "\(process.terminationStatus): \(log.suffix(300))")
        }
        return (output, log)
    }
}
