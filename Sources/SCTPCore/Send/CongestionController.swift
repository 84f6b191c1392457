import SCTPWire

/// The congestion control state of one destination path (RFC 9260 §7.2): cwnd, ssthresh
/// and partial_bytes_acked, with slow start, congestion avoidance, the reductions on loss and
/// timeout, decay while idle, and the ECN response (Appendix A).
///
/// All sizes are bytes of DATA chunks with header and padding (§7.2), and the unit of growth
/// is the path's PMDCS (Path Maximum DATA Chunk Size: the PMTU less the 12-byte common header).
/// Fast Recovery belongs to the association (`OutstandingData`); the controller is told whether
/// it is in effect.
public struct CongestionController: Hashable, Sendable {
    /// Options.
    public struct Configuration: Hashable, Sendable {
        /// ssthresh at the start; `nil` means the peer's a_rwnd given to `init`, which §7.2.1
        /// allows ("arbitrarily high") and which keeps slow start going up to the peer's window.
        public var initialSsthresh: Int?
        /// L of §7.2.1: slow start grows cwnd by at most L × PMDCS per SACK (1 per the RFC's SHOULD).
        public var slowStartIncreaseLimit: Int
        /// Grow cwnd in slow start only when the SACK also advances the Cumulative TSN Ack
        /// (RFC 4960 §7.2.1). RFC 9260 dropped that condition; off by default.
        public var slowStartRequiresCumulativeAdvance: Bool

        /// The defaults: ssthresh from the peer's a_rwnd, L = 1, RFC 9260 slow start.
        public init(initialSsthresh: Int? = nil, slowStartIncreaseLimit: Int = 1,
                    slowStartRequiresCumulativeAdvance: Bool = false) {
            precondition(slowStartIncreaseLimit >= 1, "L is a positive integer")
            self.initialSsthresh = initialSsthresh
            self.slowStartIncreaseLimit = slowStartIncreaseLimit
            self.slowStartRequiresCumulativeAdvance = slowStartRequiresCumulativeAdvance
        }
    }

    // Every path has one: the options and flags are stored apart, packed after the 8-byte
    // fields (72 bytes, where a stored `Configuration` and padding took 96).

    /// The options it was made with.
    public var configuration: Configuration {
        Configuration(initialSsthresh: hasInitialSsthresh ? initialSsthresh : nil,
                      slowStartIncreaseLimit: slowStartIncreaseLimit,
                      slowStartRequiresCumulativeAdvance: slowStartRequiresCumulativeAdvance)
    }
    /// ssthresh at the start and after `reset()`: the configured one, or the peer's a_rwnd.
    private let initialSsthresh: Int
    /// L (`Configuration.slowStartIncreaseLimit`).
    private let slowStartIncreaseLimit: Int
    /// Path Maximum DATA Chunk Size; set it when the path MTU changes.
    public var pmdcs: Int {
        didSet { precondition(pmdcs > DataChunk.headerSize, "PMDCS must leave room for user data") }
    }
    /// The congestion window.
    public private(set) var cwnd: Int
    /// The slow-start threshold.
    public private(set) var ssthresh: Int
    /// partial_bytes_acked (§7.2.2).
    public private(set) var partialBytesAcked = 0
    /// When data was last sent on the path.
    public private(set) var lastTransmission: SCTPInstant? {
        get { packedLastTransmission.wrappedValue }
        set { packedLastTransmission.wrappedValue = newValue }
    }
    private var packedLastTransmission = PackedInstant(wrappedValue: nil)
    /// Where the current idle period's decay has been applied up to.
    @PackedInstant private var idleDecayedUntil: SCTPInstant? = nil
    /// The highest TSN sent when cwnd was last cut for ECN; ECN Echoes for TSNs up to it
    /// belong to the same window of data and are not answered again.
    public private(set) var ecnReductionPoint: TSN?
    /// Whether the peer address is IPv6 (the initial window's floor differs, §7.2.1).
    public let isIPv6: Bool
    /// `Configuration.initialSsthresh` was given (`initialSsthresh` is not the peer's a_rwnd).
    private let hasInitialSsthresh: Bool
    /// `Configuration.slowStartRequiresCumulativeAdvance`.
    private let slowStartRequiresCumulativeAdvance: Bool

    /// A controller for a path with this PMDCS, before any data was sent on it.
    /// `peerReceiverWindow` is the a_rwnd of the peer's INIT or INIT ACK (the default ssthresh).
    public init(pmdcs: Int, peerReceiverWindow: UInt32, isIPv6: Bool = false,
                configuration: Configuration = Configuration()) {
        precondition(pmdcs > DataChunk.headerSize, "PMDCS must leave room for user data")
        initialSsthresh = configuration.initialSsthresh ?? Int(peerReceiverWindow)
        hasInitialSsthresh = configuration.initialSsthresh != nil
        slowStartIncreaseLimit = configuration.slowStartIncreaseLimit
        slowStartRequiresCumulativeAdvance = configuration.slowStartRequiresCumulativeAdvance
        self.isIPv6 = isIPv6
        self.pmdcs = pmdcs
        cwnd = Self.initialWindow(pmdcs: pmdcs, isIPv6: isIPv6)
        ssthresh = initialSsthresh
    }

    /// The initial cwnd of §7.2.1: min(4 × PMDCS, max(2 × PMDCS, 4404)) for an IPv4 peer,
    /// 4344 in place of 4404 for IPv6.
    public static func initialWindow(pmdcs: Int, isIPv6: Bool) -> Int {
        min(4 * pmdcs, max(2 * pmdcs, isIPv6 ? 4344 : 4404))
    }

    /// Back to the initial values (§7.2.5: a change of route or DSCP).
    public mutating func reset() {
        cwnd = Self.initialWindow(pmdcs: pmdcs, isIPv6: isIPv6)
        ssthresh = initialSsthresh
        partialBytesAcked = 0
        idleDecayedUntil = nil
        ecnReductionPoint = nil
    }

    /// Whether the path is in slow start (cwnd ≤ ssthresh).
    public var isInSlowStart: Bool { cwnd <= ssthresh }

    // MARK: Sending

    /// Whether new data may be sent with `flightSize` bytes in flight on the path (§6.1 B):
    /// while the flight size is below cwnd, a packet may take it up to PMDCS − 1 bytes past cwnd.
    public func canSend(flightSize: Int) -> Bool { flightSize < cwnd }

    /// The cwnd to use for one round of sending new data, with Max.Burst applied the way
    /// §6.1 D describes: no more than `maxBurst` × PMDCS above the flight size. Never
    /// changes the stored cwnd. `chunkOverhead`: what else every packet of DATA carries (an
    /// AUTH chunk, RFC 4895), which RFC 9260's PMDCS leaves out of the DATA chunk; without it
    /// a burst of full packets would leave room for one short packet more. A `maxBurst` of 0
    /// (or less) switches burst mitigation off (RFC 6458 §8.1.24): cwnd alone limits.
    public func sendWindow(flightSize: Int, maxBurst: Int, chunkOverhead: Int = 0) -> Int {
        guard maxBurst > 0 else { return cwnd }
        let burstLimit = flightSize + maxBurst * (pmdcs - chunkOverhead)
        return burstLimit < cwnd ? burstLimit : cwnd
    }

    /// Records a transmission (new data or retransmission) on the path at `now`: ends an idle period.
    public mutating func onTransmit(now: SCTPInstant) {
        lastTransmission = now
        idleDecayedUntil = nil
    }

    // MARK: Acknowledgements

    /// Grows cwnd for a SACK (§7.2.1, §7.2.2).
    ///
    /// - Parameters:
    ///   - ackedBytes: bytes of outstanding chunks this path's data newly acknowledged.
    ///   - duplicateBytes: bytes of chunks reported as duplicates (counted in partial_bytes_acked).
    ///   - flightSizeBeforeSack: the path's flight size before the SACK: the window counts as
    ///     fully utilised when it was at least cwnd.
    ///   - flightSizeAfterSack: the flight size after it; partial_bytes_acked restarts at 0
    ///     when everything sent on the path is acknowledged.
    ///   - cumulativeAckAdvanced: whether the SACK moved the Cumulative TSN Ack.
    ///   - inFastRecovery: Fast Recovery as `SackOutcome.isInFastRecovery` reports it; no
    ///     growth at all while in it (slow start per §7.2.1; congestion avoidance too, the
    ///     more conservative choice §7 allows).
    public mutating func onSack(ackedBytes: Int, duplicateBytes: Int = 0, flightSizeBeforeSack: Int,
                                flightSizeAfterSack: Int, cumulativeAckAdvanced: Bool, inFastRecovery: Bool) {
        defer { if flightSizeAfterSack == 0 { partialBytesAcked = 0 } }
        guard !inFastRecovery, ackedBytes > 0 || duplicateBytes > 0 else { return }
        let fullyUtilised = flightSizeBeforeSack >= cwnd
        if cwnd <= ssthresh {
            guard fullyUtilised, ackedBytes > 0,
                  cumulativeAckAdvanced || !slowStartRequiresCumulativeAdvance else { return }
            cwnd += min(ackedBytes, slowStartIncreaseLimit * pmdcs)
        } else {
            partialBytesAcked += ackedBytes + duplicateBytes
            if partialBytesAcked >= cwnd && fullyUtilised {
                partialBytesAcked -= cwnd
                cwnd += pmdcs
            } else if partialBytesAcked > cwnd {
                partialBytesAcked = cwnd
            }
        }
    }

    /// Applies one path's results of a SACK in the order §7.2.4 asks: growth first, then the
    /// Fast Retransmit reduction if the SACK calls for one on this path.
    public mutating func onSack(_ statistics: PathSackStatistics, of outcome: SackOutcome) {
        onSack(ackedBytes: statistics.newlyAckedBytes, duplicateBytes: statistics.duplicateBytes,
               flightSizeBeforeSack: statistics.flightSizeBeforeSack,
               flightSizeAfterSack: statistics.flightSizeAfterSack,
               cumulativeAckAdvanced: outcome.cumulativeAckAdvanced, inFastRecovery: outcome.isInFastRecovery)
        if statistics.needsCongestionReduction { onFastRetransmit() }
    }

    // MARK: Loss

    /// Loss detected by Fast Retransmit outside Fast Recovery (§7.2.3):
    /// ssthresh = max(cwnd / 2, 4 × PMDCS), cwnd = ssthresh, partial_bytes_acked = 0.
    public mutating func onFastRetransmit() {
        ssthresh = max(cwnd / 2, 4 * pmdcs)
        cwnd = ssthresh
        partialBytesAcked = 0
    }

    /// The path's T3-rtx timer expired (§7.2.3, §6.3.3 E1):
    /// ssthresh = max(cwnd / 2, 4 × PMDCS), cwnd = PMDCS, partial_bytes_acked = 0.
    public mutating func onRetransmissionTimeout() {
        ssthresh = max(cwnd / 2, 4 * pmdcs)
        cwnd = pmdcs
        partialBytesAcked = 0
    }

    /// An ECN Echo reported congestion at `lowestTSN` (Appendix A): cwnd is cut as for a
    /// loss, at most once per window of data (about once per RTT): not again for ECN Echoes
    /// about TSNs sent before the cut. `highestSentTSN` is the highest TSN sent now.
    /// Returns whether cwnd was cut (answer with CWR either way).
    @discardableResult
    public mutating func onECNEcho(lowestTSN: TSN, highestSentTSN: TSN) -> Bool {
        if let point = ecnReductionPoint, lowestTSN <= point { return false }
        onFastRetransmit()
        ecnReductionPoint = highestSentTSN
        return true
    }

    // MARK: Idle

    /// Decays cwnd while nothing is sent on the path (§7.2.1, §7.2.2): for every full `rto`
    /// since the last transmission (or since the decay was last applied),
    /// cwnd = max(cwnd / 2, 4 × PMDCS); before the first such step of an idle period,
    /// ssthresh = cwnd. Call it before sending on a path, with the path's current RTO.
    public mutating func applyIdleDecay(now: SCTPInstant, rto: Duration) {
        guard let last = lastTransmission else { return }
        let step = rto.nanosecondsClamped
        guard step > 0 else { return }
        let from = idleDecayedUntil ?? last
        guard now > from else { return }
        let periods = (now - from).nanosecondsClamped / step
        guard periods > 0 else { return }
        if idleDecayedUntil == nil { ssthresh = cwnd }
        let floor = 4 * pmdcs
        var remaining = periods
        while remaining > 0 && cwnd > floor {
            cwnd = max(cwnd / 2, floor)
            remaining -= 1
        }
        idleDecayedUntil = from + .nanoseconds(periods * step)
    }
}
