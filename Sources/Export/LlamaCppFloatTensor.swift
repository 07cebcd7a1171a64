import Models
import Tensor

/// A float matrix of a deployed model that is no projection (the token embedding, an untied head)
/// in the most compact llama.cpp type that holds qaft's values bit for bit, in this order:
///
/// * Q8_0 when every 32-weight block along a row is d·q for one fp16 d and integers q in −128…127:
///   SmolLM2's source GGUF stores its tied embedding as Q8_0, so the floats qaft reads are that grid;
/// * F16 when every value is an fp16;
/// * F32 otherwise.
///
/// Each candidate is decoded back by ggml's reference dequantizer (`GGMLType.dequantize`) and kept
/// only when every bit pattern (signed zeros and NaNs included) equals qaft's, so the type is
/// checked, never assumed, and nothing is approximated.
public struct LlamaCppFloatTensor {
    public let type: GGMLType
    public let data: [UInt8]

    /// Encodes `m` (rows × cols, stored under GGUF dims [cols, rows]).
    public init(_ m: Matrix) {
        let candidates: [(GGMLType, () -> [UInt8]?)] = [(.q8_0, { Self.q8_0(m) }), (.f16, { Self.f16(m.storage) })]
        for (type, encode) in candidates {
            guard let data = encode(), let back = type.dequantize(data, count: m.storage.count),
                  back.elementsEqual(m.storage, by: { $0.bitPattern == $1.bitPattern }) else { continue }
            (self.type, self.data) = (type, data)
            return
        }
        (type, data) = (.f32, m.storage.withUnsafeBytes { Array($0) })
    }

    /// `values` rounded to fp16, little-endian (lossy unless every value is an fp16).
    public static func f16(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 * values.count)
        for v in values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// The block's largest |q| fixes d = absmax / |q|. ggml's quantizer (d = fp16(absmax / 127),
    /// q = round(x / d)) always reaches 127, so that is tried first; a grid with fewer levels
    /// (a Q4_0 block's largest code is 8 or less) needs another. When w = d·q exactly, absmax / |q|
    /// is d exactly, so trying every |q| finds d if there is one.
    private static let largestCodes = [127, 128] + (1...126).reversed()

    /// ggml's Q8_0 blocks (fp16 d, then 32 int8 q) whose products d·q are `m`'s values, or nil
    /// when a row is not whole blocks or some block has no such d and q.
    private static func q8_0(_ m: Matrix) -> [UInt8]? {
        let block = 32
        guard m.cols % block == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(m.storage.count / block * GGMLType.q8_0.blockGeometry.bytes)
        var codes = [Int8](repeating: 0, count: block)
        let found = m.storage.withUnsafeBufferPointer { w -> Bool in
            for start in stride(from: 0, to: w.count, by: block) {
                let x = UnsafeBufferPointer(rebasing: w[start..<(start + block)])
                let absmax = x.reduce(Float(0)) { max($0, abs($1)) }
                func encodes(_ d: Float16) -> Bool {
                    let scale = Float(d)
                    guard d.isFinite else { return false }
                    for j in 0..<block {
                        let q = scale > 0 ? (x[j] / scale).rounded() : 0
                        guard q >= -128, q <= 127, (scale * q).bitPattern == x[j].bitPattern else { return false }
                        codes[j] = Int8(q)
                    }
                    return true
                }
                guard let d = largestCodes.lazy.map({ Float16(absmax / Float($0)) }).first(where: encodes) else { return false }
                withUnsafeBytes(of: d.bitPattern.littleEndian) { out += $0 }
                codes.withUnsafeBytes { out += $0 }
            }
            return true
        }
        return found ? out : nil
    }
}
