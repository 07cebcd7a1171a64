import Methods
import Models
import Quantization
import Tensor

/// A uniform grid in one of llama.cpp's own block types, and how far ggml's dequantization of it is
/// from qaft's deployed values s·(q − z) (or s·q + m, `QuantizedMatrix.dequantize`).
///
/// ggml's 32-weight blocks run along a row, so a grid maps onto them when its groups are whole
/// blocks (group size a multiple of 32, or one group per row of a width that is): each block
/// repeats its group's parameters. Per tensor, the first type that holds every group:
///
/// * Q4_0, w = d·(q − 8): integer zeros with every q − z in −8…7 (symmetric 4-bit, and any
///   integer-zero grid of 2 or 3 bits), q = code − z + 8 and d = fp16(s);
/// * Q4_1, w = d·q + m: any grid of ≤ 4 bits, q = code, d = fp16(s), m = fp16(−s·z) or the
///   grid's own offset (`QuantizedMatrix.deployable` makes both fp16 numbers);
/// * Q8_0, w = d·q: integer zeros with every q − z in −128…127 (5–8 bits), q = code − z.
///
/// fp16 rounding of d and m is the only loss: `exact` says whether ggml's values (computed by the
/// reference dequantizer `GGMLType.dequantize`) equal `QuantizedMatrix.dequantize`'s bit for bit, and
/// `maxDifference` is the largest |difference| otherwise.
public struct LlamaCppGrid {
    public let type: GGMLType
    public let data: [UInt8]
    public let exact: Bool
    public let maxDifference: Float

    /// Encodes `q` (projection `site`), or refuses with the reason llama.cpp cannot hold it.
    public init(_ q: QuantizedMatrix, site: String) throws {
        let block = 32
        guard q.cols % block == 0, q.groupSize % block == 0 || q.groupSize >= q.cols else {
            // A per-channel group is stored padded (176 for 172 columns): name the row's width then.
            let groups = q.groupSize >= q.cols ? "one group per row of \(q.cols) columns" : "group size \(q.groupSize) over \(q.cols) columns"
            throw ExportError.unrepresentable(site: site, format: "GGUF", reason: groups + " is not a whole number of llama.cpp's 32-weight blocks")
        }
        for (i, s) in q.scales.enumerated() where !Float16(s).isFinite || !Float16(Self.offset(q, i)).isFinite {
            throw ExportError.unrepresentable(site: site, format: "GGUF", reason: "scale \(s) of group \(i) overflows fp16")
        }
        let integerZeros = q.offsets == nil && q.zeros.allSatisfy { $0 == $0.rounded() }
        func shiftedCodesFit(_ range: ClosedRange<Int>) -> Bool {
            guard integerZeros else { return false }
            for r in 0..<q.rows {
                for c in 0..<q.cols where !range.contains(Int(q.codes[r * q.cols + c]) - Int(q.zeros[r * q.groupCount + c / q.groupSize])) {
                    return false
                }
            }
            return true
        }
        let type: GGMLType
        if q.bits <= 4 {
            type = shiftedCodesFit(-8...7) ? .q4_0 : .q4_1
        } else if shiftedCodesFit(-128...127) {
            type = .q8_0
        } else {
            throw ExportError.unrepresentable(site: site, format: "GGUF", reason: "a \(q.bits)-bit grid with zero points that are "
                                              + "not integers (or codes beyond −128…127 of them) has no llama.cpp block type (Q8_0 needs integer zeros)")
        }
        let data = Self.encode(q, as: type)
        var expected = [Float](repeating: 0, count: q.rows * q.cols)
        expected.withUnsafeMutableBufferPointer { q.dequantize(into: $0.baseAddress!) }
        let decoded = type.dequantize(data, count: expected.count)!
        var worst: Float = 0
        for i in expected.indices { worst = max(worst, abs(decoded[i] - expected[i])) }
        self.type = type
        self.data = data
        exact = decoded == expected
        maxDifference = worst
    }

    /// m of group `k`: the grid's value at code 0.
    private static func offset(_ q: QuantizedMatrix, _ k: Int) -> Float {
        q.offsets?[k] ?? -q.scales[k] * q.zeros[k]
    }

    private static func half(_ x: Float, into out: inout [UInt8]) {
        withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { out += $0 }
    }

    /// ggml's block layout: an fp16 d (and m for Q4_1), then for 4-bit types 16 bytes holding
    /// weight j in the low nibble and weight j + 16 in the high nibble of byte j, for Q8_0 32 int8.
    private static func encode(_ q: QuantizedMatrix, as type: GGMLType) -> [UInt8] {
        let block = 32, gc = q.groupCount
        var out: [UInt8] = []
        out.reserveCapacity(q.rows * q.cols / block * type.blockGeometry.bytes)
        for r in 0..<q.rows {
            for start in stride(from: 0, to: q.cols, by: block) {
                let g = r * gc + start / q.groupSize, s = q.scales[g], z = q.zeros[g]
                let codes = (0..<block).map { Int(q.codes[r * q.cols + start + $0]) }
                half(s, into: &out)
                switch type {
                case .q4_0:
                    let shifted = codes.map { $0 - Int(z) + 8 }
                    for j in 0..<16 { out.append(UInt8(shifted[j]) | UInt8(shifted[j + 16]) << 4) }
                case .q4_1:
                    half(offset(q, g), into: &out)
                    for j in 0..<16 { out.append(UInt8(codes[j]) | UInt8(codes[j + 16]) << 4) }
                default:
                    for c in codes { out.append(UInt8(bitPattern: Int8(c - Int(z)))) }
                }
            }
        }
        return out
    }
}
