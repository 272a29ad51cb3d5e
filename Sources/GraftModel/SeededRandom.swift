import GraftKernels

/// A small deterministic generator (SplitMix64) for weight initialisation
/// (and the demo's images): the same seed gives the same numbers on every
/// machine and run.
public struct SeededRandom {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 24 bits (a Float's mantissa).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// Keras's GlorotUniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
    mutating func fillGlorotUniform(_ t: Tensor, fanIn: Int, fanOut: Int) {
        let limit = (6 / Float(fanIn + fanOut)).squareRoot()
        for i in 0..<t.count { t.data[i] = (2 * nextUnitFloat() - 1) * limit }
    }
}
