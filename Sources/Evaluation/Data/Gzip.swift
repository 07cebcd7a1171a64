import CZlib

/// gunzip through zlib's inflate with gzip header detection (windowBits 16 + MAX_WBITS). Handles
/// concatenated gzip members, as `gunzip` does.
enum Gzip {
    /// The decompressed bytes of `data`; `file` only names the source in errors.
    static func decompress(_ data: [UInt8], file: String) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 4)
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw EvaluationError.decompressionFailed(file: file, reason: "inflateInit2 returned \(initStatus)") }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                out.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                switch status {
                case Z_STREAM_END:
                    // Another gzip member may follow; `gunzip` decodes all of them.
                    guard stream.avail_in > 0 else { return }
                    guard inflateReset(&stream) == Z_OK else {
                        throw EvaluationError.decompressionFailed(file: file, reason: "inflateReset failed")
                    }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw EvaluationError.decompressionFailed(file: file, reason: "truncated input at compressed offset \(data.count)")
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    let offset = data.count - Int(stream.avail_in)
                    throw EvaluationError.decompressionFailed(file: file, reason: "\(message) at compressed offset \(offset)")
                }
            }
        }
        return out
    }
}
