/// A point on the core's clock, in nanoseconds from an origin the driver chooses.
///
/// The core never reads a clock: every call that depends on time takes the current
/// `SCTPInstant` from its caller (a driver's monotonic clock, or a test's virtual clock),
/// and the core reports its next deadline as an `SCTPInstant` too.
public struct SCTPInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the driver's origin.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The origin.
    public static let zero = SCTPInstant(nanoseconds: 0)

    public static func < (lhs: SCTPInstant, rhs: SCTPInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// This instant moved by `duration` (saturating rather than overflowing).
    public static func + (lhs: SCTPInstant, rhs: Duration) -> SCTPInstant {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanosecondsClamped)
        return SCTPInstant(nanoseconds: overflow ? (rhs.nanosecondsClamped > 0 ? .max : .min) : sum)
    }

    /// The time from `rhs` to `lhs`.
    public static func - (lhs: SCTPInstant, rhs: SCTPInstant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { "t+\(Double(nanoseconds) / 1e6)ms" }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64`.
    public var nanosecondsClamped: Int64 {
        // One 128-bit division where the standard library has it: `components` divides by
        // 10^18 and then we by 10^9, which cost ~190 instructions on every timer set.
        if #available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *) {
            return Int64(clamping: attoseconds / 1_000_000_000)
        }
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds > 0 ? .max : .min }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds > 0 ? .max : .min }
        return sum
    }
}

/// An optional instant in 8 bytes (an `SCTPInstant?` takes 9, 16 in a struct): `nil` is kept
/// as `Int64.min` nanoseconds, about 292 years before the driver's origin, never a real
/// instant. For the deadlines an association keeps per timer and per path (memory per idle
/// association).
@propertyWrapper
struct PackedInstant: Hashable, Sendable {
    private var raw: Int64

    init(wrappedValue: SCTPInstant?) { raw = wrappedValue?.nanoseconds ?? .min }

    var wrappedValue: SCTPInstant? {
        get { raw == .min ? nil : SCTPInstant(nanoseconds: raw) }
        set { raw = newValue?.nanoseconds ?? .min }
    }
}
