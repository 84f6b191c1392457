/// A smoothing gain as a fraction, so that the RTO arithmetic is exact: RTO.Alpha is 1/8,
/// RTO.Beta 1/4 (RFC 9260 §16).
public struct SmoothingGain: Hashable, Sendable {
    /// Numerator, at least 0 and at most `denominator`.
    public var numerator: Int
    /// Denominator, 1…2^20.
    public var denominator: Int

    /// `numerator / denominator`, clamped into 0…1 (the denominator into 1…2^20).
    public init(numerator: Int, denominator: Int) {
        self.denominator = min(max(denominator, 1), 1 << 20)
        self.numerator = min(max(numerator, 0), self.denominator)
    }

    /// RTO.Alpha: 1/8.
    public static let oneEighth = SmoothingGain(numerator: 1, denominator: 8)
    /// RTO.Beta: 1/4.
    public static let oneQuarter = SmoothingGain(numerator: 1, denominator: 4)

    /// `(1 − gain)·old + gain·sample`, in whole nanoseconds (64-bit arithmetic: this runs
    /// for every RTT measurement; `Duration`'s own operators work in 128 bits).
    func blend(_ old: Duration, _ sample: Duration) -> Duration {
        let weighted = Self.bounded(old) * Int64(denominator - numerator) + Self.bounded(sample) * Int64(numerator)
        return .nanoseconds(weighted / Int64(denominator))
    }

    /// A duration's nanoseconds within ±2^40 (about 18 minutes: RTO parameters above that are capped there), so that a
    /// blend of two cannot overflow with any gain (denominator at most 2^20).
    static func bounded(_ duration: Duration) -> Int64 {
        let limit: Int64 = 1 << 40
        return min(max(duration.nanosecondsClamped, -limit), limit)
    }
}

/// The protocol parameters of the retransmission timeout (RFC 9260 §6.3.1, §16).
public struct RTOParameters: Hashable, Sendable {
    /// RTO.Initial: the RTO before any measurement.
    public var initial: Duration
    /// RTO.Min: no computed RTO is smaller.
    public var minimum: Duration
    /// RTO.Max: neither a computed nor a backed-off RTO is larger.
    public var maximum: Duration
    /// RTO.Alpha, the gain of SRTT.
    public var alpha: SmoothingGain
    /// RTO.Beta, the gain of RTTVAR.
    public var beta: SmoothingGain
    /// G, the clock granularity: the variance term of the RTO is at least G.
    public var clockGranularity: Duration

    /// Parameters with RFC 9260's gains by default. `minimum` is raised to at least zero
    /// and `maximum` to at least `minimum`.
    public init(initial: Duration, minimum: Duration, maximum: Duration,
                alpha: SmoothingGain = .oneEighth, beta: SmoothingGain = .oneQuarter,
                clockGranularity: Duration = .milliseconds(1)) {
        self.minimum = max(minimum, .zero)
        self.maximum = max(maximum, self.minimum)
        self.initial = initial
        self.alpha = alpha
        self.beta = beta
        self.clockGranularity = max(clockGranularity, .zero)
    }

    /// RFC 9260 §16: RTO.Initial 1 s, RTO.Min 1 s, RTO.Max 60 s.
    public static let rfc9260 = RTOParameters(initial: .seconds(1), minimum: .seconds(1), maximum: .seconds(60))
    /// RFC 4960's values, still the defaults of the Linux kernel and usrsctp: RTO.Initial 3 s,
    /// RTO.Min 1 s, RTO.Max 60 s.
    public static let rfc4960 = RTOParameters(initial: .seconds(3), minimum: .seconds(1), maximum: .seconds(60))
    /// Values WebRTC data-channel stacks use for low-latency paths: RTO.Initial 500 ms,
    /// RTO.Min 400 ms, RTO.Max 60 s.
    public static let lowLatency = RTOParameters(initial: .milliseconds(500), minimum: .milliseconds(400),
                                                 maximum: .seconds(60))
}

/// The retransmission timeout of one destination address (RFC 9260 §6.3.1 rules C1–C7,
/// and the doubling of §6.3.3 E2 / §5.1 on T3-rtx, T1-init and T1-cookie expiry).
///
/// - C1: before the first measurement the RTO is RTO.Initial.
/// - C2: the first measurement R sets SRTT = R, RTTVAR = R/2.
/// - C3: a later measurement R' sets RTTVAR = (1−β)·RTTVAR + β·|SRTT−R'| (with the SRTT
///   from before this update), then SRTT = (1−α)·SRTT + α·R'.
/// - After each measurement RTO = SRTT + max(G, 4·RTTVAR), clamped to [RTO.Min, RTO.Max] (C6, C7).
/// - `backOff()` doubles the RTO up to RTO.Max; the next measurement recomputes it from
///   SRTT and RTTVAR, which ends the back-off.
///
/// The caller applies Karn's rule (C5): no measurement from a retransmitted chunk.
///
/// Every path has one, so it is stored compactly (40 bytes, where `Duration`s took 168:
/// memory per idle association, issue 19): times as whole nanoseconds in 64 bits (the
/// arithmetic was in whole nanoseconds already; a parameter given finer than a nanosecond is
/// truncated to one, and times saturate at about 292 years), and the parameters in an
/// immutable box that the estimators made from one configuration share
/// (`SharedConfiguration.initialRTO`): a copy shares it, a change of bounds makes its own.
public struct RTOEstimator: Hashable, Sendable {
    /// The parameters, packed: RTO.Initial, RTO.Min, RTO.Max and G in nanoseconds, α and β.
    private final class Bounds: Sendable {
        let initial: Int64
        let minimum: Int64
        let maximum: Int64
        let granularity: Int64
        let alphaNumerator: UInt32
        let alphaDenominator: UInt32
        let betaNumerator: UInt32
        let betaDenominator: UInt32

        init(_ parameters: RTOParameters) {
            initial = parameters.initial.nanosecondsClamped
            minimum = parameters.minimum.nanosecondsClamped
            maximum = parameters.maximum.nanosecondsClamped
            granularity = parameters.clockGranularity.nanosecondsClamped
            // A SmoothingGain's denominator is at most 2^20 and its numerator at most that.
            alphaNumerator = UInt32(parameters.alpha.numerator)
            alphaDenominator = UInt32(parameters.alpha.denominator)
            betaNumerator = UInt32(parameters.beta.numerator)
            betaDenominator = UInt32(parameters.beta.denominator)
        }

        var parameters: RTOParameters {
            RTOParameters(initial: .nanoseconds(initial), minimum: .nanoseconds(minimum), maximum: .nanoseconds(maximum),
                          alpha: SmoothingGain(numerator: Int(alphaNumerator), denominator: Int(alphaDenominator)),
                          beta: SmoothingGain(numerator: Int(betaNumerator), denominator: Int(betaDenominator)),
                          clockGranularity: .nanoseconds(granularity))
        }
    }

    private var bounds: Bounds
    /// The RTO, SRTT and RTTVAR in nanoseconds; `Self.none` before the first measurement.
    private var rtoNanoseconds: Int64
    private var srttNanoseconds = Self.none
    private var rttvarNanoseconds = Self.none
    /// Back-offs since the last measurement.
    public private(set) var backoffCount = 0

    /// No measurement (SRTT and RTTVAR are never negative).
    private static let none = Int64.min

    /// The parameters in use.
    public var parameters: RTOParameters { bounds.parameters }
    /// Whether this estimator's parameters are the very box `other`'s are (tests: sharing).
    func sharesParameters(with other: RTOEstimator) -> Bool { bounds === other.bounds }

    public static func == (a: RTOEstimator, b: RTOEstimator) -> Bool {
        a.rtoNanoseconds == b.rtoNanoseconds && a.srttNanoseconds == b.srttNanoseconds
            && a.rttvarNanoseconds == b.rttvarNanoseconds && a.backoffCount == b.backoffCount
            && (a.bounds === b.bounds || a.parameters == b.parameters)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(parameters)
        hasher.combine(rtoNanoseconds)
        hasher.combine(srttNanoseconds)
        hasher.combine(rttvarNanoseconds)
        hasher.combine(backoffCount)
    }

    /// The current retransmission timeout.
    public var rto: Duration { .nanoseconds(rtoNanoseconds) }
    /// The smoothed round-trip time, `nil` before the first measurement.
    public var srtt: Duration? { srttNanoseconds == Self.none ? nil : .nanoseconds(srttNanoseconds) }
    /// `srtt` in nanoseconds (within ±2^40), for timers computed per packet without `Duration`'s
    /// 128-bit arithmetic.
    var srttNanosecondsIfMeasured: Int64? { srttNanoseconds == Self.none ? nil : srttNanoseconds }
    /// The round-trip time variation, `nil` before the first measurement.
    public var rttvar: Duration? { rttvarNanoseconds == Self.none ? nil : .nanoseconds(rttvarNanoseconds) }

    /// An estimator with no measurement yet: the RTO is RTO.Initial (clamped to [min, max]).
    public init(parameters: RTOParameters = .rfc9260) {
        bounds = Bounds(parameters)
        rtoNanoseconds = 0
        rtoNanoseconds = clamp(bounds.initial)
    }

    /// An estimator with RFC 9260's gains and granularity and the given bounds.
    public init(initial: Duration, minimum: Duration, maximum: Duration) {
        self.init(parameters: RTOParameters(initial: initial, minimum: minimum, maximum: maximum))
    }

    /// Changes RTO.Initial, RTO.Min and RTO.Max (`SCTP_RTOINFO` on a live association): the
    /// RTO is recomputed from the measurements so far, or is the new RTO.Initial without one.
    public mutating func setBounds(initial: Duration, minimum: Duration, maximum: Duration) {
        let kept = bounds.parameters
        bounds = Bounds(RTOParameters(initial: initial, minimum: minimum, maximum: maximum, alpha: kept.alpha,
                                      beta: kept.beta, clockGranularity: kept.clockGranularity))
        if hasMeasurement {
            rtoNanoseconds = clamp(Self.add(srttNanoseconds, max(bounds.granularity, Self.times4(rttvarNanoseconds))))
        } else {
            rtoNanoseconds = clamp(bounds.initial)
        }
        backoffCount = 0
    }

    /// Whether a round-trip time has been measured.
    public var hasMeasurement: Bool { srttNanoseconds != Self.none }

    /// Takes a round-trip time measurement (a negative one counts as zero) and recomputes the RTO.
    public mutating func addSample(_ measurement: Duration) {
        // Bounded like every stored time: SRTT stays within 2^40 ns (timers derived from it,
        // such as the tail loss probe's, rely on that).
        let sample = Self.bounded(max(measurement.nanosecondsClamped, 0))
        let smoothed: Int64
        let variation: Int64
        if hasMeasurement {
            let difference = srttNanoseconds > sample ? srttNanoseconds - sample : sample - srttNanoseconds
            variation = Self.blend(rttvarNanoseconds, difference, bounds.betaNumerator, bounds.betaDenominator)
            smoothed = Self.blend(srttNanoseconds, sample, bounds.alphaNumerator, bounds.alphaDenominator)
        } else {
            smoothed = sample
            variation = Self.bounded(sample) / 2
        }
        srttNanoseconds = smoothed
        rttvarNanoseconds = variation
        let margin = max(Self.bounded(bounds.granularity), Self.bounded(variation) * 4)
        rtoNanoseconds = clamp(Self.bounded(smoothed) + margin)
        backoffCount = 0
    }

    /// Doubles the RTO, up to RTO.Max (a T3-rtx, T1 or heartbeat expiry).
    public mutating func backOff() {
        rtoNanoseconds = min(Self.add(rtoNanoseconds, rtoNanoseconds), bounds.maximum)
        backoffCount += 1
    }

    /// Forgets every measurement and back-off: the RTO is RTO.Initial again.
    public mutating func reset() {
        srttNanoseconds = Self.none
        rttvarNanoseconds = Self.none
        rtoNanoseconds = clamp(bounds.initial)
        backoffCount = 0
    }

    private func clamp(_ value: Int64) -> Int64 {
        min(max(value, bounds.minimum), bounds.maximum)
    }

    /// `(1 − gain)·old + gain·sample` (`SmoothingGain.blend`, on nanoseconds).
    private static func blend(_ old: Int64, _ sample: Int64, _ numerator: UInt32, _ denominator: UInt32) -> Int64 {
        (bounded(old) * Int64(denominator - numerator) + bounded(sample) * Int64(numerator)) / Int64(denominator)
    }

    /// Within ±2^40 nanoseconds (`SmoothingGain.bounded`).
    private static func bounded(_ nanoseconds: Int64) -> Int64 {
        let limit: Int64 = 1 << 40
        return min(max(nanoseconds, -limit), limit)
    }

    private static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    private static func times4(_ a: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: 4)
        return overflow ? (a > 0 ? .max : .min) : product
    }
}
