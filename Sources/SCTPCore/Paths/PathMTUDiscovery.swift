import SCTPWire

/// Packetization Layer Path MTU Discovery (RFC 8899 DPLPMTUD, §6.2.1 for SCTP) settings of
/// an association's paths (`SCTPConfiguration.pathMTUDiscovery`).
///
/// Sizes are SCTP packets, from the common header on, without the IP and UDP headers the
/// driver adds (as `SCTPConfiguration.pathMTU`). With discovery on, every path starts at
/// `basePMTU`, confirms it with a probe (a HEARTBEAT padded with a PAD chunk, RFC 4820, to
/// the probed size; the HEARTBEAT ACK confirms it) and searches upwards to `maximumPMTU`;
/// `SCTPConfiguration.pathMTU` is then unused. With discovery off, every path uses
/// `SCTPConfiguration.pathMTU` (or what `setPathParameters` sets) and sends no probe.
public struct PathMTUDiscovery: Sendable, Hashable {
    /// Whether paths discover their MTU. Off by default (see docs/DECISIONS.md): peers that
    /// drop packets with chunks they do not know (pion/sctp) never answer a probe.
    public var isEnabled: Bool
    /// BASE_PLPMTU (RFC 8899 §5.1.4): the size every path starts with and falls back to on a
    /// black hole, assumed to pass any path. 1200 bytes of SCTP fit the IPv6 minimum link MTU
    /// (1280) with an IPv6 and a UDP header (48 bytes). Also the smallest MTU discovery ever
    /// uses (MIN_PLPMTU): a path whose base probes go unanswered (ERROR) keeps it.
    public var basePMTU: Int
    /// MAX_PLPMTU: the largest size probed. The default, 8952, fills a 9000-byte jumbo frame
    /// with IPv6 and UDP headers (and leaves 20 bytes unused over IPv4).
    public var maximumPMTU: Int
    /// MAX_PROBES (RFC 8899 §5.1.2): unanswered probes of one size before it counts as too large.
    public var maxProbes: Int
    /// PROBE_TIMER: how long a probe is awaited; `nil` means the path's RTO when the probe is sent.
    public var probeTimeout: Duration?
    /// PMTU_RAISE_TIMER (RFC 8899 §5.1.1, 600 s): how long a path stays at a size it found
    /// before it probes for a larger one again. Also how long a path in ERROR (base probes
    /// unanswered) waits before probing the base again.
    public var raiseInterval: Duration
    /// Bytes the lower layers add to each SCTP packet (IP and UDP headers: 28 over UDP/IPv4,
    /// 48 over UDP/IPv6, 20 / 40 over raw IP). Only used to turn the common link MTUs (1280,
    /// 1400, 1500, 4352, 9000, ...) into the SCTP packet sizes the search tries first.
    public var lowerLayerOverhead: Int

    public init(isEnabled: Bool = false, basePMTU: Int = 1200, maximumPMTU: Int = 8952, maxProbes: Int = 3,
                probeTimeout: Duration? = nil, raiseInterval: Duration = .seconds(600), lowerLayerOverhead: Int = 48) {
        self.isEnabled = isEnabled
        self.basePMTU = basePMTU
        self.maximumPMTU = maximumPMTU
        self.maxProbes = maxProbes
        self.probeTimeout = probeTimeout
        self.raiseInterval = raiseInterval
        self.lowerLayerOverhead = lowerLayerOverhead
    }

    /// The smallest packet a probe can be: common header, a HEARTBEAT with our info (an IPv6
    /// address), and an empty PAD chunk.
    static let smallestProbe = 64

    /// `basePMTU` and `maximumPMTU` as used: multiples of 4 (SCTP packets always are), the
    /// base at least 508 bytes (RFC 9260's smallest MTU with IPv4 headers: 576 − 68) and the
    /// maximum at least the base and at most 65,507 (a UDP/IPv4 datagram).
    var effectiveBase: Int { min(max(basePMTU, 508), 65_504) & ~3 }
    var effectiveMaximum: Int { max(min(maximumPMTU, 65_507) & ~3, effectiveBase) }
}

/// The RFC 8899 §5.2 states of one path.
public enum PathMTUDiscoveryState: Sendable, Hashable {
    /// Discovery is off: the path keeps its configured MTU.
    case disabled
    /// Confirming that `basePMTU` passes (a probe of that size).
    case base
    /// Probing larger sizes.
    case searching
    /// The largest size that passes is known; probing again after the raise interval.
    case searchComplete
    /// Probes of `basePMTU` went unanswered: the path keeps the base and probes it again
    /// after the raise interval.
    case error
}

/// One path's PLPMTUD state machine (RFC 8899 §5.2), without I/O: the association asks it
/// what to probe (`probeToSend`), tells it when a probe went out, was acknowledged, timed
/// out, and when T3-rtx expired or a Packet Too Big arrived; `plpmtu` is the path's MTU.
///
/// The search (RFC 8899 §5.3): up through the common link MTUs (less the lower layers'
/// overhead) while probes pass, then, once a size fails, halving the interval between the
/// largest confirmed size and the smallest failed one down to 4 bytes.
struct PathMTUProber {
    let settings: PathMTUDiscovery
    private(set) var state: PathMTUDiscoveryState
    /// The PLPMTU: the largest packet the path is known to carry.
    private(set) var plpmtu: Int
    /// While T3-rtx expired and a probe of `plpmtu` has not confirmed it yet (RFC 8899 §4.3
    /// black hole detection), packets are held to the base size (`effectiveMTU`).
    private(set) var validating = false
    /// The size packets are built to: `plpmtu`, or the base while validating.
    var effectiveMTU: Int { validating ? min(plpmtu, settings.effectiveBase) : plpmtu }
    /// The smallest size known not to pass (a failed probe, a Packet Too Big), or one above
    /// the maximum while none failed.
    private(set) var ceiling: Int
    /// The probe in flight.
    private(set) var probe: (nonce: UInt64, size: Int, sentAt: SCTPInstant)?
    /// Unanswered probes of `probeSize` so far.
    private(set) var probeCount = 0
    /// The size being probed.
    private(set) var probeSize: Int?
    /// When the timer (probe timer, raise timer, the next probe) is due; `nil`: none.
    private(set) var deadline: SCTPInstant?
    /// Probes sent, acknowledged, and black holes detected (for tests and status).
    private(set) var probesSent = 0
    private(set) var probesAcknowledged = 0
    private(set) var blackHoles = 0
    /// Validated Packet Too Big reports taken (ICMP / ICMPv6, or the local stack's refusal);
    /// discarded ones (invalid or inconsistent sizes) are not counted.
    private(set) var packetTooBigReports = 0
    /// A size a Packet Too Big reported: the search probes it first (when it lies between the
    /// PLPMTU and the ceiling) instead of the next common size or the middle of the interval.
    private(set) var searchHint: Int?
    /// T3-rtx expired while the search was going on: once the PLPMTU is confirmed, the search
    /// resumes instead of waiting for the raise timer.
    private var resumeSearchAfterValidation = false

    /// A path's prober; `fixedMTU` is its MTU while discovery is off.
    init(settings: PathMTUDiscovery, fixedMTU: Int) {
        self.settings = settings
        if settings.isEnabled {
            state = .base
            plpmtu = settings.effectiveBase
        } else {
            state = .disabled
            plpmtu = fixedMTU
        }
        ceiling = settings.effectiveMaximum + 4
    }

    var isEnabled: Bool { state != .disabled }

    /// The size to probe now, when one is due and none is in flight.
    func probeToSend(now: SCTPInstant) -> Int? {
        guard probe == nil, let size = probeSize, let deadline, deadline <= now else { return nil }
        return size
    }

    // MARK: Inputs

    /// Starts (or restarts: a path change, RFC 8899 §5.2) discovery in BASE: the path uses
    /// the base size and confirms it with a probe due at `now`.
    mutating func start(now: SCTPInstant) {
        guard isEnabled else { return }
        enterBase(now: now, ceiling: settings.effectiveMaximum + 4)
    }

    /// Turns discovery off (the path keeps `fixedMTU`) or on (from BASE).
    mutating func setEnabled(_ on: Bool, fixedMTU: Int, now: SCTPInstant?) {
        var settings = self.settings
        settings.isEnabled = on
        self = PathMTUProber(settings: settings, fixedMTU: fixedMTU)
        if on, let now { start(now: now) }
    }

    /// A probe of `size` left with `nonce`; it is awaited for `timeout`.
    mutating func probeSent(nonce: UInt64, size: Int, now: SCTPInstant, timeout: Duration) {
        probe = (nonce, size, now)
        probeCount += 1
        probesSent += 1
        deadline = now + timeout
    }

    /// A HEARTBEAT ACK with `nonce` arrived. Returns whether it answered our probe.
    mutating func acknowledged(nonce: UInt64, now: SCTPInstant) -> Bool {
        guard let probe, probe.nonce == nonce else { return false }
        self.probe = nil
        probeCount = 0
        probesAcknowledged += 1
        let size = probe.size
        if size >= plpmtu { plpmtu = size }
        if ceiling <= size { ceiling = settings.effectiveMaximum + 4 }
        switch state {
        case .disabled:
            break
        case .base, .error:
            state = .searching
            searchNext(now: now)
        case .searching:
            searchNext(now: now)
        case .searchComplete:
            // The current size confirmed after T3-rtx expired: a loss, not a black hole. A
            // search that T3-rtx interrupted goes on; a finished one waits for the raise timer.
            validating = false
            if resumeSearchAfterValidation {
                resumeSearchAfterValidation = false
                state = .searching
                searchNext(now: now)
            } else {
                probeSize = nil
                deadline = now + settings.raiseInterval
            }
        }
        return true
    }

    /// The timer fired: a probe unanswered for its timeout (sent again up to MAX_PROBES
    /// times, then its size counts as too large), or the raise timer (search again), or the
    /// retry of an ERROR path.
    mutating func timerFired(now: SCTPInstant) {
        guard let due = deadline, due <= now else { return }
        guard let probe else {
            // Not a probe timer: the raise timer or the next probe's start.
            if probeSize == nil {
                if state == .searchComplete {
                    // PMTU_RAISE_TIMER: look for a larger size again, forgetting old failures.
                    ceiling = settings.effectiveMaximum + 4
                    state = .searching
                    searchNext(now: now)
                } else {
                    deadline = nil
                }
            }
            return
        }
        self.probe = nil
        if probeCount < settings.maxProbes {
            deadline = now  // the same size again, now
            return
        }
        // MAX_PROBES unanswered: the size does not pass.
        probeCount = 0
        switch state {
        case .disabled:
            deadline = nil
        case .base, .error:
            // The base does not pass either (RFC 8899 §5.2: ERROR); keep it, try later.
            state = .error
            plpmtu = settings.effectiveBase
            probeSize = settings.effectiveBase
            deadline = now + settings.raiseInterval
        case .searching:
            if probe.size > plpmtu { ceiling = min(ceiling, probe.size) }
            searchNext(now: now)
        case .searchComplete:
            // The current size no longer passes: a black hole.
            blackHole(now: now, failedSize: probe.size)
        }
    }

    /// T3-rtx expired on the path (RFC 8899 §4.3 black hole detection): packets are held to
    /// the base size and a probe of the current PLPMTU validates it (any search probe in flight
    /// is given up). Its acknowledgment ends the validation; MAX_PROBES unanswered ones are a
    /// black hole: the path drops to the base and searches again below the failed size.
    mutating func retransmissionTimeout(now: SCTPInstant) {
        guard isEnabled, !validating, plpmtu > settings.effectiveBase, state == .searching || state == .searchComplete
        else { return }
        resumeSearchAfterValidation = state == .searching
        validating = true
        state = .searchComplete
        probe = nil
        probeSize = plpmtu
        probeCount = 0
        deadline = now
    }

    /// A validated Packet Too Big (RFC 8899 §4.6.2) reporting `size` for a packet of ours
    /// (`probeNonce`: the probe it quoted, if it was one; otherwise DATA). The report guides
    /// the search; it never sets the PLPMTU to its size (§4.6.2: "MUST NOT be used directly").
    /// Returns whether it was used:
    /// - below the base (our MIN_PLPMTU): invalid, discarded;
    /// - at or above the size of the packet it quotes (the probe's size; for DATA, the
    ///   PLPMTU it was built within): inconsistent, discarded;
    /// - between the PLPMTU and a search probe's size: the probe is too big; the PLPMTU stays,
    ///   the probe's size becomes the ceiling and the report the next size probed;
    /// - from the base to below the PLPMTU: a black hole indication: the path drops to the base
    ///   (confirmed by a probe) and then probes the reported size first.
    mutating func packetTooBig(size reported: Int, probeNonce: UInt64?, now: SCTPInstant) -> Bool {
        guard isEnabled else { return false }
        let size = reported & ~3
        guard size >= settings.effectiveBase else { return false }
        if let probeNonce {
            guard let probe, probe.nonce == probeNonce, size < probe.size else { return false }
            if size >= plpmtu {
                packetTooBigReports += 1
                self.probe = nil
                probeCount = 0
                ceiling = min(ceiling, probe.size)
                searchHint = size
                state = .searching
                searchNext(now: now)
                return true
            }
        } else {
            guard size < plpmtu else { return false }
        }
        packetTooBigReports += 1
        blackHole(now: now, failedSize: size + 4)
        searchHint = size
        return true
    }

    /// The association closed: no timer, no probe.
    mutating func stop() {
        deadline = nil
        probe = nil
    }

    /// The due probe cannot go yet (the path is not active): ask again at `time`.
    mutating func postpone(until time: SCTPInstant) {
        guard probe == nil, probeSize != nil else { return }
        deadline = time
    }

    // MARK: Search

    private mutating func enterBase(now: SCTPInstant, ceiling: Int) {
        state = .base
        plpmtu = settings.effectiveBase
        self.ceiling = max(ceiling, plpmtu + 4)
        probe = nil
        probeCount = 0
        validating = false
        resumeSearchAfterValidation = false
        searchHint = nil
        probeSize = plpmtu
        deadline = now
    }

    private mutating func blackHole(now: SCTPInstant, failedSize: Int) {
        blackHoles += 1
        enterBase(now: now, ceiling: failedSize)
    }

    /// The next size to probe above `plpmtu`, or SEARCH_COMPLETE.
    private mutating func searchNext(now: SCTPInstant) {
        let hint = searchHint.flatMap { $0 > plpmtu && $0 < ceiling ? $0 : nil }
        searchHint = nil
        if let next = hint ?? Self.nextSize(above: plpmtu, below: ceiling, settings: settings) {
            probeSize = next
            probeCount = 0
            deadline = now
        } else {
            state = .searchComplete
            probeSize = nil
            probe = nil
            deadline = now + settings.raiseInterval
        }
    }

    /// Link MTUs met in practice: IPv6 minimum, tunnels, PPPoE, Ethernet, FDDI / Token Ring,
    /// jumbo frames, 16 KiB loopbacks and the largest datagram.
    static let commonLinkMTUs = [1280, 1400, 1420, 1440, 1460, 1480, 1492, 1500, 2048, 4352, 8000, 9000, 9216, 16_384, 65_535]

    /// The next probe size strictly between `low` (confirmed) and `ceiling` (failed, or past
    /// the maximum): while nothing failed, the next common link MTU (less the overhead) or the
    /// maximum; after a failure, the middle of the interval; `nil` when no multiple of 4 is left.
    static func nextSize(above low: Int, below ceiling: Int, settings: PathMTUDiscovery) -> Int? {
        let maximum = settings.effectiveMaximum
        let top = min(ceiling - 4, maximum)
        guard top > low else { return nil }
        if ceiling > maximum {
            for link in commonLinkMTUs {
                let size = (link - settings.lowerLayerOverhead) & ~3
                if size > low && size <= top { return size }
            }
            return top
        }
        // Binary search between the confirmed size and the failed one.
        let middle = (low + (ceiling - low) / 2) & ~3
        return min(max(middle, low + 4), top)
    }
}
