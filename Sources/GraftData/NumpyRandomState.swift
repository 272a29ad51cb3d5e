/// numpy's legacy `np.random.RandomState(seed)` as far as Keras uses it:
/// MT19937 seeded with `init_genrand(seed)`, and `shuffle`, which draws each
/// swap index with numpy's bounded draw (mask to the smallest all-ones value
/// covering the bound, redraw until within it). Keras shuffles the file list
/// once with it before splitting, so the same seed selects the same files.
public struct NumpyRandomState {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    public init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            let previous = state[i - 1]
            state[i] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(i)
        }
    }

    /// The next 32-bit output of MT19937.
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var next = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { next ^= 0x9908_B0DF }
            state[i] = next
        }
        index = 0
    }

    /// A uniform integer in 0...bound (numpy's legacy `random_interval`).
    public mutating func nextInt(upTo bound: UInt32) -> UInt32 {
        if bound == 0 { return 0 }
        var mask = bound
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        while true {
            let value = nextUInt32() & mask
            if value <= bound { return value }
        }
    }

    /// numpy's `RandomState.shuffle` of a sequence, in place.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, through: 1, by: -1) {
            let j = Int(nextInt(upTo: UInt32(i)))
            items.swapAt(i, j)
        }
    }
}
