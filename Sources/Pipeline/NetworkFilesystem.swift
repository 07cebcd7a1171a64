import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Recognises network filesystems by statfs's `f_type`, so a SQLite cache is never put on one:
/// SQLite's WAL needs shared memory and POSIX locks that NFS, SMB and the like do not provide
/// across hosts (SQLite's own documentation: "WAL does not work over a network filesystem").
enum NetworkFilesystem {
    /// Magic numbers from linux/magic.h and the filesystems' sources.
    static let magic: [Int64: String] = [
        0x6969: "NFS",
        0xFF53_4D42: "CIFS",
        0x517B: "SMB",
        0xFE53_4D42: "SMB2",
        0x5346_414F: "AFS",
        0x6B41_4653: "kAFS",
        0x00C3_6400: "CephFS",
        0x0BD0_0BD0: "Lustre",
        0x4750_4653: "GPFS",
        0x0116_1970: "GFS2",
        0x7461_636F: "OCFS2",
        0x7375_7245: "Coda",
        0x564C: "NCP",
    ]

    /// The name of the network filesystem of `type`, or nil for a local one.
    static func name(ofType type: Int64) -> String? { magic[type] }

    /// The network filesystem holding `url` (or its nearest existing ancestor, since the cache
    /// directory may not exist yet), or nil when it is local or cannot be told.
    static func name(at url: URL) -> String? {
        #if os(Linux)
        var dir = url.standardizedFileURL
        while !FileManager.default.fileExists(atPath: dir.path), dir.path != "/" { dir = dir.deletingLastPathComponent() }
        return fileSystemType(dir.path).flatMap(name(ofType:))
        #else
        return nil
        #endif
    }

    #if os(Linux)
    private typealias StatfsFunction = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32

    /// statfs(2)'s `f_type`. Swift's Glibc module does not export <sys/vfs.h> (swiftlang/swift
    /// issue 86149), so the libc function is looked up by name; `f_type` is the first field of
    /// `struct statfs`, a `long`, on every 64-bit Linux.
    static func fileSystemType(_ path: String) -> Int64? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "statfs") else { return nil }
        let statfs = unsafeBitCast(symbol, to: StatfsFunction.self)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
        defer { buffer.deallocate() }
        guard statfs(path, buffer) == 0 else { return nil }
        return Int64(UInt32(truncatingIfNeeded: buffer.load(as: Int.self)))
    }
    #endif

    /// The one message refusing a SQLite cache on `filesystem`.
    static func refusal(_ filesystem: String) -> String {
        "is on a network filesystem (\(filesystem)), where SQLite's locking is unreliable; "
            + "share a cache between machines through PostgreSQL instead: --cache postgres://USER@HOST:PORT/DB --artifacts SHARED_DIR"
    }
}
