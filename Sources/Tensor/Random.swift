import Foundation

/// A small, fast, seedable and splittable generator (SplitMix64 seeding xoshiro256**). Every random
/// choice in qaft (sampling, shuffles, calibration windows, initialisation) draws from one of these so
/// a seed fixes the run bit for bit, and its state can be checkpointed.
public struct SeededRandom: RandomNumberGenerator, Codable, Equatable, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        func splitmix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    @inlinable static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// An independent stream derived from this one's seed material and a label, without advancing it.
    public func split(_ label: UInt64) -> SeededRandom {
        SeededRandom(seed: s0 ^ Self.rotl(s3, 17) ^ (label &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Uniform in [0, 1) with 24 bits of resolution.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
