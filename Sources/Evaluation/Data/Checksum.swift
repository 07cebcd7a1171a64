import Crypto

/// sha256 as `sha256sum` prints it, for verifying vendored data against SHA256SUMS and for short
/// identity hashes. Backed by swift-crypto (BoringSSL on Linux, CryptoKit on Apple platforms).
public enum Checksum {
    /// 64 lower-case hex digits of sha256(`bytes`).
    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(Crypto.SHA256.hash(data: bytes)) }

    /// Lower-case hex digits of `bytes` (a finished digest, streamed hashers included).
    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
