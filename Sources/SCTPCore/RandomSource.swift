/// Where the core gets its randomness: verification tags, initial TSNs, the cookie secret,
/// heartbeat jitter and nonces. The core never draws randomness itself; drivers inject a
/// cryptographically strong source, tests a seeded one so that runs repeat exactly.
public protocol SCTPRandomSource {
    /// Fills `buffer` with random bytes.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension SCTPRandomSource {
    /// A random 32-bit value.
    public mutating func next32() -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }

    /// A random verification tag: never 0 (RFC 9260 §5.3.1).
    public mutating func nextVerificationTag() -> UInt32 {
        while true {
            let tag = next32()
            if tag != 0 { return tag }
        }
    }
}

/// A deterministic generator (SplitMix64) for tests and simulations: the same seed gives
/// the same sequence. Not for production use.
public struct SeededRandomSource: SCTPRandomSource, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var index = 0
        while index < buffer.count {
            let word = nextUInt64()
            for shift in stride(from: 0, to: 64, by: 8) where index < buffer.count {
                buffer[index] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
                index += 1
            }
        }
    }
}
