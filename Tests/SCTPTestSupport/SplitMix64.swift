import SCTPCore

/// splitmix64, the usrsctp test peer's PRNG for message lengths (and the tests' for every
/// seeded choice, so that failures can be replayed): the core's `SeededRandomSource` as a
/// `RandomNumberGenerator`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var source: SeededRandomSource

    public init(seed: UInt64) { source = SeededRandomSource(seed: seed) }

    public mutating func next() -> UInt64 { source.nextUInt64() }

    /// A value in `0 ..< 1`.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
