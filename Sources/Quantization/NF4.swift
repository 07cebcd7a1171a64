/// QLoRA's 4-bit NormalFloat quantization: each block of 64 weights stores its absmax and 4-bit
/// indices into a fixed 16-value code book spaced for normally distributed weights. With double
/// quantization the fp32 absmaxes are themselves quantized to 8 bits (block 256, after subtracting
/// their mean), as bitsandbytes' `quantize_4bit(..., compress_statistics=True)` does.
public struct NF4Tensor: Equatable, Sendable {
    /// The NF4 code book: bitsandbytes `get_4bit_type("nf4")` in bitsandbytes/functional.py (the
    /// same values are hard-coded in csrc `dDequantizeNF4`). Exact float32 literals.
    public static let codebook: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]
    /// Decision thresholds halfway between neighbouring code values (bitsandbytes `dQuantizeNF4`).
    static let midpoints: [Float] = (0..<15).map { (codebook[$0] + codebook[$0 + 1]) / 2 }

    public static let blockSize = 64

    /// Number of weights (the last block may be partial).
    public let count: Int
    /// Two codes per byte, first code in the high nibble (bitsandbytes order).
    public var packed: [UInt8]
    public var absmax: BlockScales

    /// Per-block absmax, either plain fp32 or double-quantized.
    public enum BlockScales: Equatable, Sendable {
        case float([Float])
        case doubleQuantized(DoubleQuantizedScales)

        public func values() -> [Float] {
            switch self {
            case .float(let v): return v
            case .doubleQuantized(let d): return d.dequantized()
            }
        }
    }

    /// Quantizes `values` (any length) in blocks of 64.
    public init(quantizing values: [Float], doubleQuantize: Bool = false) {
        count = values.count
        let blocks = (values.count + Self.blockSize - 1) / Self.blockSize
        var scales = [Float](repeating: 0, count: blocks)
        var packed = [UInt8](repeating: 0, count: (values.count + 1) / 2)
        for b in 0..<blocks {
            let range = (b * Self.blockSize)..<min(values.count, (b + 1) * Self.blockSize)
            var m: Float = 0
            for i in range { m = max(m, abs(values[i])) }
            scales[b] = m
            let inv: Float = m > 0 ? 1 / m : 0
            for i in range {
                let c = Self.nearestCode(values[i] * inv)
                packed[i / 2] |= i % 2 == 0 ? c << 4 : c
            }
        }
        self.packed = packed
        absmax = doubleQuantize ? .doubleQuantized(DoubleQuantizedScales(quantizing: scales)) : .float(scales)
    }

    /// Index of the code-book value nearest to `x` (which lies in [−1, 1]).
    public static func nearestCode(_ x: Float) -> UInt8 {
        var c: UInt8 = 0
        for t in midpoints where x > t { c += 1 }
        return c
    }

    public func code(_ i: Int) -> UInt8 {
        i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xF
    }

    public func dequantized() -> [Float] {
        let scales = absmax.values()
        return (0..<count).map { Self.codebook[Int(code($0))] * scales[$0 / Self.blockSize] }
    }
}

/// bitsandbytes' 8-bit blockwise quantization of the NF4 absmaxes (QLoRA double quantization):
/// subtract the mean, then per block of 256 store the block's absmax (fp32) and an 8-bit index into
/// the signed dynamic-exponent map `create_dynamic_map(signed=True)`.
public struct DoubleQuantizedScales: Equatable, Sendable {
    public static let blockSize = 256

    /// bitsandbytes `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: for each
    /// decade 10^(i−6), i = 0…6, the midpoints of `linspace(0.1, 1, 2^i + 1)`, both signs, plus 0 and 1.
    public static let dynamicMap: [Float] = {
        var data: [Float] = [0, 1]
        for i in 0..<7 {
            let n = (1 << i) + 1
            let bounds = (0..<n).map { Float(0.1 + 0.9 * Double($0) / Double(n - 1)) }
            let decade = Float(pow10(i - 6))
            for j in 0..<(n - 1) {
                let mean = (bounds[j] + bounds[j + 1]) / 2
                data.append(decade * mean)
                data.append(-decade * mean)
            }
        }
        return data.sorted()
    }()

    private static func pow10(_ e: Int) -> Double {
        e >= 0 ? (0..<e).reduce(1.0) { a, _ in a * 10 } : 1 / pow10(-e)
    }

    public let count: Int
    public var codes: [UInt8]
    /// Absmax of each block of 256 (mean-subtracted) scales.
    public var blockAbsmax: [Float]
    /// The subtracted mean.
    public var offset: Float

    public init(quantizing scales: [Float]) {
        count = scales.count
        let mean = scales.isEmpty ? 0 : scales.reduce(0, +) / Float(scales.count)
        offset = mean
        let centred = scales.map { $0 - mean }
        let blocks = (count + Self.blockSize - 1) / Self.blockSize
        blockAbsmax = [Float](repeating: 0, count: blocks)
        codes = [UInt8](repeating: 0, count: count)
        for b in 0..<blocks {
            let range = (b * Self.blockSize)..<min(count, (b + 1) * Self.blockSize)
            let m = range.reduce(Float(0)) { max($0, abs(centred[$1])) }
            blockAbsmax[b] = m
            for i in range { codes[i] = Self.nearest(m > 0 ? centred[i] / m : 0) }
        }
    }

    /// Binary search for the map entry nearest to `x`.
    static func nearest(_ x: Float) -> UInt8 {
        let map = dynamicMap
        var lo = 0, hi = map.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if map[mid] <= x { lo = mid } else { hi = mid }
        }
        return UInt8(abs(map[hi] - x) < abs(x - map[lo]) ? hi : lo)
    }

    public func dequantized() -> [Float] {
        (0..<count).map { Self.dynamicMap[Int(codes[$0])] * blockAbsmax[$0 / Self.blockSize] + offset }
    }
}
