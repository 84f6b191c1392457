import SCTPWire

/// One destination address of the peer, with everything RFC 9260 keeps per path:
/// reachability and error counter (§8.2), RTO (§6.3), MTU, congestion control (§7.2),
/// and the T3-rtx and heartbeat timers. The association's paths are a table of these
/// (`TransmissionQueue.paths`), indexed by `PathID`.
struct PeerPath {
    // Every association has one per peer address, so the fields are laid out without padding
    // (216 bytes with the tail loss probe's deadline and the RTO parameters shared; memory per
    // idle association, issue 19): the 32-bit counters fill the gaps.
    let address: IPAddress
    var state: PathState
    /// Tail loss probes sent on this path since a SACK last acknowledged new data (or T3-rtx
    /// expired). (Here: it fills a gap before the counter below.)
    var tailProbesSent: UInt8 = 0
    private var storedErrorCount: UInt32 = 0
    /// Consecutive unacknowledged retransmissions / heartbeats on this path.
    var errorCount: Int {
        get { Int(storedErrorCount) }
        set { storedErrorCount = UInt32(clamping: newValue) }
    }
    var rto: RTOEstimator
    /// The path MTU; its congestion controller's PMDCS follows it.
    var mtu: Int {
        didSet { congestion.pmdcs = TransmissionQueue.pmdcs(mtu: mtu) }
    }
    /// cwnd, ssthresh and partial_bytes_acked of this path (§7.2).
    var congestion: CongestionController
    /// T3-rtx deadline while data is outstanding on this path.
    @PackedInstant var t3Deadline: SCTPInstant? = nil
    /// Tail loss probe deadline (`SCTPConfiguration.tailLossProbeMinimum`) while data is in
    /// flight on this path and fewer than `TransmissionQueue.maxTailProbes` probes were sent
    /// since the last SACK that acknowledged new data.
    @PackedInstant var probeDeadline: SCTPInstant? = nil
    /// When the next heartbeat is due (idle or unconfirmed path).
    @PackedInstant var heartbeatDeadline: SCTPInstant? = nil
    /// When new DATA or a heartbeat (a chunk that measures the RTT) was last sent on this
    /// path: a path that carried one within HB.interval is not idle and gets no heartbeat (§8.3).
    @PackedInstant var lastSent: SCTPInstant? = nil
    /// Path MTU discovery (RFC 8899): its PLPMTU becomes `mtu` (`Association+PathMTU.swift`).
    /// Part of the path, so that every new path (ASCONF, a restart) starts in BASE.
    ///
    /// A prober that is off is always a fresh one (switching discovery off makes a new one),
    /// so it is not stored: `prober` is `nil` then, and this reads as a disabled prober (its
    /// settings the defaults with discovery off; switching discovery on takes the
    /// association's, `Association.setPathMTUDiscovery`). Only a path with discovery on pays
    /// for a prober (about 230 bytes).
    var pmtud: PathMTUProber {
        get { prober?.value ?? PathMTUProber(settings: PathMTUDiscovery(isEnabled: false), fixedMTU: mtu) }
        _modify {
            if prober == nil {
                var disabled = PathMTUProber(settings: PathMTUDiscovery(isEnabled: false), fixedMTU: mtu)
                yield &disabled
                if disabled.isEnabled { prober = PathMTUProberBox(disabled) }
            } else {
                if !isKnownUniquelyReferenced(&prober!) { prober = PathMTUProberBox(prober!.value) }
                yield &prober!.value
                if !prober!.value.isEnabled { prober = nil }
            }
        }
    }
    /// The prober while discovery is on (see `pmtud`).
    private var prober: PathMTUProberBox?
    /// Whether path MTU discovery runs on this path (`pmtud.isEnabled`, without making a prober).
    var pmtudEnabled: Bool { prober != nil }
    /// The path MTU discovery timer (`pmtud.deadline`, without making a prober).
    var pmtudDeadline: SCTPInstant? { prober?.value.deadline }
    /// The prober's counters already added to the association's statistics.
    var pmtudCounted: (probes: Int, blackHoles: Int) {
        get { (Int(countedProbes), Int(countedBlackHoles)) }
        set {
            countedProbes = UInt32(clamping: newValue.probes)
            countedBlackHoles = UInt32(clamping: newValue.blackHoles)
        }
    }
    private var countedProbes: UInt32 = 0
    private var countedBlackHoles: UInt32 = 0
    /// The nonce of the heartbeat in flight and when it was sent (last: its 17 bytes leave
    /// no padding inside the struct).
    var heartbeatInFlight: (nonce: UInt64, sentAt: SCTPInstant)?

    /// The largest DATA chunk (header included) a message is cut into on this path: the PMDCS
    /// of its MTU, or with discovery on, a size no larger than the base PLPMTU's PMDCS such that
    /// a whole number of chunks fills a packet of the path's MTU. A chunk cut while the path
    /// carried large packets then still fits when its PMTU falls back to the base (a black
    /// hole) or when it is retransmitted on another path, and packets stay full (see
    /// docs/DECISIONS.md).
    var fragmentChunkSize: Int {
        let full = TransmissionQueue.pmdcs(mtu: mtu)
        guard let prober else { return full }
        let base = TransmissionQueue.pmdcs(mtu: prober.value.settings.effectiveBase)
        guard full > base else { return full }
        let chunksPerPacket = (full + base - 1) / base
        return (full / chunksPerPacket) & ~3
    }

    /// A path before the peer's window is known: its congestion control starts afresh with
    /// `resetCongestion(peerReceiverWindow:)` when data transfer begins.
    /// `rto` is the estimator to start from (`SharedConfiguration.initialRTO`, whose
    /// parameters the paths share); by default one made from `configuration`.
    init(address: IPAddress, state: PathState, configuration: SCTPConfiguration, rto: RTOEstimator? = nil) {
        self.address = address
        self.state = state
        self.rto = rto ?? RTOEstimator(initial: configuration.rtoInitial, minimum: configuration.rtoMin, maximum: configuration.rtoMax)
        let pmtud = PathMTUProber(settings: configuration.pathMTUDiscovery, fixedMTU: configuration.pathMTU)
        prober = pmtud.isEnabled ? PathMTUProberBox(pmtud) : nil
        mtu = pmtud.plpmtu
        congestion = Self.congestionController(address: address, mtu: pmtud.plpmtu, peerReceiverWindow: 0)
    }

    /// Whether data may be sent here (RFC 7829: potentially failed paths are avoided).
    var isUsable: Bool { state == .active }

    /// Congestion control from its initial values, with ssthresh from the peer's a_rwnd (§7.2.1).
    mutating func resetCongestion(peerReceiverWindow: UInt32) {
        congestion = Self.congestionController(address: address, mtu: mtu, peerReceiverWindow: peerReceiverWindow)
    }

    private static func congestionController(address: IPAddress, mtu: Int, peerReceiverWindow: UInt32) -> CongestionController {
        let isIPv6 = if case .v6 = address { true } else { false }
        return CongestionController(pmdcs: TransmissionQueue.pmdcs(mtu: mtu), peerReceiverWindow: peerReceiverWindow, isIPv6: isIPv6)
    }
}

/// A path's `PathMTUProber` while discovery is on (`PeerPath.pmtud`).
final class PathMTUProberBox {
    var value: PathMTUProber
    init(_ value: PathMTUProber) { self.value = value }
}
