import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Model files are hundreds of megabytes and are read
/// once into float32 weights, so mapping avoids holding a second copy of the raw bytes. All formats
/// assume little-endian data, as every producer of these formats writes it.
final class MappedFile: @unchecked Sendable {
    /// Path used in every error message about this file.
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(_ url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelFormatError.fileNotFound(file: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatError.corrupt(file: path, what: "file", offset: 0, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        // mmap rejects length 0; an empty file is simply an empty buffer and fails the first read.
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ModelFormatError.corrupt(file: path, what: "file", offset: 0,
                                           reason: "cannot be memory-mapped (errno \(errno))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    var size: Int { bytes.count }

    /// The bytes [offset, offset + count), or a `truncated` error naming `what`.
    func slice(_ offset: Int, _ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw ModelFormatError.truncated(file: path, what: what(), offset: offset, needed: count, fileSize: size)
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}

/// A cursor over a `MappedFile` whose every read is bounds-checked and names what it was reading.
struct ByteReader {
    let file: MappedFile
    private(set) var offset: Int

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.size - offset }

    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let s = try file.slice(offset, count, what())
        offset += count
        return s
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let s = try bytes(MemoryLayout<T>.size, what())
        return T(littleEndian: s.loadUnaligned(as: T.self))
    }

    mutating func float32(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try integer(UInt32.self, what()))
    }

    mutating func float64(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try integer(UInt64.self, what()))
    }

    /// A length as a non-negative Int: a UInt64 count that cannot fit is itself corruption, reported
    /// where it was read rather than wrapping around.
    mutating func count(_ what: @autoclosure () -> String) throws -> Int {
        let at = offset
        let n = try integer(UInt64.self, what())
        guard n <= UInt64(Int.max) else {
            throw ModelFormatError.corrupt(file: file.path, what: what(), offset: at, reason: "count \(n) is absurd")
        }
        return Int(n)
    }

    /// `count` bytes of UTF-8, rejecting invalid sequences instead of silently repairing them.
    mutating func utf8(_ count: Int, _ what: @autoclosure () -> String) throws -> String {
        let at = offset
        let s = try bytes(count, what())
        guard let str = String(validating: s, as: UTF8.self) else {
            throw ModelFormatError.corrupt(file: file.path, what: what(), offset: at, reason: "invalid UTF-8")
        }
        return str
    }
}

/// The product of `dims`, or nil if it overflows or a dimension is negative.
func checkedProduct(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = p
    }
    return n
}
