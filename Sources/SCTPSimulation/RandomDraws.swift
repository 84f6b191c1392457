import SCTPCore

extension SeededRandomSource {
    /// A uniform value in `0..<bound` (`bound` > 0), by the multiply-high method.
    mutating func next(below bound: UInt64) -> UInt64 {
        nextUInt64().multipliedFullWidth(by: bound).high
    }

    /// A uniform value in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double {
        Double(nextUInt64() >> 11) * 0x1p-53
    }

    /// `true` with probability `p`; draws nothing when `p` is 0 or 1 (or outside 0…1).
    mutating func chance(_ p: Double) -> Bool {
        if !(p > 0) { return false }
        if p >= 1 { return true }
        return nextUnit() < p
    }

    /// A uniform duration in [0, `limit`] at nanosecond resolution; draws nothing for a zero limit.
    mutating func duration(upTo limit: Duration) -> Duration {
        let nanoseconds = limit.nanosecondsClamped
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64(next(below: UInt64(nanoseconds) + 1)))
    }
}
