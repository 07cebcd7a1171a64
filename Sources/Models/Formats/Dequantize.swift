/// Conversions from the storage types of GGUF and safetensors to float32. Each kernel reads
/// `count` values from unaligned little-endian bytes at `src` and writes them to `dst`; block
/// formats require `count` to be a multiple of their block size (checked when the tensor table is
/// read). Results are bit-identical to ggml's reference dequantizers: products are not fused
/// (Swift never contracts `a * b + c` into an FMA), matching the separate multiply and add of ggml.
enum Dequantize {
    /// Weights per block of the ggml block formats below.
    static let blockSize = 32

    static func f32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    }

    static func f16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            dst[i] = half(src, i * 2)
        }
    }

    /// bfloat16 is the high half of a float32, so widening is a shift.
    static func bf16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let b = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            dst[i] = Float(bitPattern: UInt32(b) << 16)
        }
    }

    /// Q8_0 block (34 bytes): fp16 scale d, 32 × int8 q; w = d·q.
    static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / blockSize) {
            let block = src + b * 34
            let d = half(block, 0)
            let q = (block + 2).assumingMemoryBound(to: Int8.self)
            let out = dst + b * blockSize
            for j in 0..<blockSize { out[j] = d * Float(q[j]) }
        }
    }

    /// Q4_0 block (18 bytes): fp16 scale d, 16 bytes of nibbles; byte j holds weight j in its low
    /// nibble and weight j+16 in its high nibble; w = d·(q − 8).
    static func q4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / blockSize) {
            let block = src + b * 18
            let d = half(block, 0)
            let q = (block + 2).assumingMemoryBound(to: UInt8.self)
            let out = dst + b * blockSize
            for j in 0..<16 {
                out[j] = d * Float(Int32(q[j] & 0x0F) - 8)
                out[j + 16] = d * Float(Int32(q[j] >> 4) - 8)
            }
        }
    }

    /// Q4_1 block (20 bytes): fp16 scale d, fp16 minimum m, 16 bytes of nibbles in Q4_0's order;
    /// w = d·q + m.
    static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / blockSize) {
            let block = src + b * 20
            let d = half(block, 0)
            let m = half(block, 2)
            let q = (block + 4).assumingMemoryBound(to: UInt8.self)
            let out = dst + b * blockSize
            for j in 0..<16 {
                out[j] = d * Float(q[j] & 0x0F) + m
                out[j + 16] = d * Float(q[j] >> 4) + m
            }
        }
    }

    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }
}
