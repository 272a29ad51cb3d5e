/// SplitMix64 (Steele, Lea and Flood, 2014): the small deterministic
/// generator behind every draw Graft makes itself (weight initialisation,
/// per-epoch shuffles, flips, Dropout masks). The same seed gives the same
/// numbers on every machine and run.
public struct SplitMix64 {
    /// The generator's increment (2^64 divided by the golden ratio), also
    /// the multiplier that spreads a counter over 64 bits.
    public static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= SplitMix64.golden
        return SplitMix64.mix(state)
    }

    /// Moves on as `count` calls of `next` would (the state is a counter).
    public mutating func skip(_ count: Int) {
        state &+= SplitMix64.golden &* UInt64(truncatingIfNeeded: count)
    }

    /// Uniform in [0, 1), from the top 24 bits (a Float's mantissa).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// SplitMix64's finaliser: a bijection of 64 bits whose every output bit
    /// depends on every input bit, so that nearby inputs give unrelated
    /// outputs (a hash of a counter).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The constants a seed is combined with for each kind of draw, so that
/// draws made from one user seed are independent of one another.
public enum SeedSalt {
    /// The head's weight initialisation (the base's uses the seed as is).
    public static let head: UInt64 = 0x5EED_0F4E_AD00_0000
    /// Per training step, for the step's Dropout masks.
    public static let dropoutStep: UInt64 = 0x2545_F491_4F6C_DD1D
    /// Per epoch, for a dataset's reshuffle.
    public static let epochShuffle: UInt64 = 0xD1B5_4A32_D192_ED03
    /// Per image, for its flip.
    public static let image: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    /// Per augmentation layer, for its draws on an image.
    public static let augmentationLayer: UInt64 = 0x1656_67B1_9E37_79F9
}
