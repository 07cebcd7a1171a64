/// The bit layout of packed codes. Each row is packed on its own, in chunks of 32 codes that take
/// 4·b bytes (so 3-bit is dense: 32 codes in 12 bytes); a row is padded with zero codes to a whole
/// number of chunks. Inside a chunk, code j (0…31) lives at:
///
/// | bits | bytes | code j |
/// |---|---|---|
/// | 8 | 32 | byte j |
/// | 4 | 16 | byte j mod 16, low nibble for j < 16, high nibble for j ≥ 16 (Q4_0/Q4_1's order) |
/// | 2 | 8  | byte j mod 8, bits 2·(j div 8) … +1 |
/// | 3 | 12 | low two bits as the 2-bit layout in bytes 0–7; high bit = bit j of the little-endian UInt32 in bytes 8–11 |
///
/// The layouts are chosen so 16 consecutive codes decode with a few vector shifts and masks (no
/// shuffles, no codes straddling lanes) into one `SIMD16<Float>`.
public enum BitPacking {
    public static let chunkCodes = 32
    public static let supportedBits: Set<Int> = [2, 3, 4, 8]

    public static func chunkBytes(bits: Int) -> Int { 4 * bits }
    public static func paddedCount(_ cols: Int) -> Int { (cols + chunkCodes - 1) / chunkCodes * chunkCodes }
    public static func rowBytes(cols: Int, bits: Int) -> Int { paddedCount(cols) / chunkCodes * chunkBytes(bits: bits) }

    /// Writes 32 codes (each < 2^bits) into one zero-initialised chunk.
    static func pack(_ codes: UnsafeBufferPointer<UInt8>, bits: Int, into p: UnsafeMutablePointer<UInt8>) {
        for (j, c) in codes.enumerated() {
            switch bits {
            case 8: p[j] = c
            case 4: p[j % 16] |= j < 16 ? c : c << 4
            case 2: p[j % 8] |= c << (2 * (j / 8))
            default:
                p[j % 8] |= (c & 3) << (2 * (j / 8))
                p[8 + j / 8] |= (c >> 2) << (j % 8)
            }
        }
    }

    /// Code j of a chunk, one at a time (the reference the SIMD decoders are tested against).
    static func unpack(_ p: UnsafePointer<UInt8>, _ j: Int, bits: Int) -> UInt8 {
        switch bits {
        case 8: return p[j]
        case 4: return j < 16 ? p[j] & 0xF : p[j - 16] >> 4
        case 2: return (p[j % 8] >> (2 * (j / 8))) & 3
        default: return ((p[j % 8] >> (2 * (j / 8))) & 3) | (((p[8 + j / 8] >> (j % 8)) & 1) << 2)
        }
    }
}

/// Decodes 16 consecutive codes (`half` 0: codes 0–15 of a chunk, 1: codes 16–31) to floats.
protocol CodeDecoder {
    static func decode(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<Float>
}

enum Decode8: CodeDecoder {
    @inline(__always)
    static func decode(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<Float> {
        VectorOps.toFloat(VectorOps.widen(chunk.loadUnaligned(fromByteOffset: 16 * half, as: SIMD16<UInt8>.self)))
    }
}

enum Decode4: CodeDecoder {
    @inline(__always)
    static func decode(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<Float> {
        let v = VectorOps.widen(chunk.loadUnaligned(as: SIMD16<UInt8>.self))
        return VectorOps.toFloat((v &>> UInt32(4 * half)) & 0xF)
    }
}

enum Decode2: CodeDecoder {
    @inline(__always)
    static func low2(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<UInt32> {
        let b = chunk.loadUnaligned(as: SIMD8<UInt8>.self)
        let v = VectorOps.widen(SIMD16<UInt8>(lowHalf: b, highHalf: b))
        let shift = SIMD16<UInt32>(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2) &+ UInt32(4 * half)
        return (v &>> shift) & 3
    }

    @inline(__always)
    static func decode(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<Float> {
        VectorOps.toFloat(low2(chunk, half: half))
    }
}

enum Decode3: CodeDecoder {
    @inline(__always)
    static func decode(_ chunk: UnsafeRawPointer, half: Int) -> SIMD16<Float> {
        let high = UInt32(chunk.loadUnaligned(fromByteOffset: 8 + 2 * half, as: UInt16.self))
        let lane = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let h = (SIMD16<UInt32>(repeating: high) &>> lane) & 1
        return VectorOps.toFloat(Decode2.low2(chunk, half: half) | (h &<< 2))
    }
}
