import SCTPCore

/// A clock that only moves when told to: simulations and tests advance it to the next
/// deadline instead of sleeping, so a run of hours of protocol time takes milliseconds.
public struct VirtualClock: Sendable {
    /// The current virtual time.
    public private(set) var now: SCTPInstant

    public init(start: SCTPInstant = .zero) { now = start }

    /// Moves time forward by `duration` (never backward).
    public mutating func advance(by duration: Duration) {
        let next = now + duration
        if next > now { now = next }
    }

    /// Moves time forward to `instant` if it is later than now.
    public mutating func advance(to instant: SCTPInstant) {
        if instant > now { now = instant }
    }
}
