import DequeModule
import NIOCore
import SCTPWire

/// One SCTP association: the RFC 9260 state machine. Its life is an `AssociationPhase`
/// (the states of §4, with each phase's data); its association-wide timers are a
/// `TimerTable`. It routes chunks to its parts (handshake, the per-path table, the
/// `TransmissionQueue` and the `DataReceiver` (a `DataTransferState` made on first use),
/// path management, shutdown) and collects what they produce: packets to send
/// (`pollTransmit`), events (`pollEvent`) and its next deadline.
///
/// It is driven by its `SCTPEndpoint`, never directly by I/O: packets, time and user calls
/// come in as arguments.
///
/// Exclusivity: the state the packet path reads and changes all the time (`paths`,
/// `phase`, `timers`, `outbox`, `events`, ...) is marked `@exclusivity(unchecked)` in
/// release builds. These are aggregates (arrays, deques, structs holding them) whose
/// accesses contain calls, so the compiler cannot prove them free of overlap and checks
/// each one at run time (`swift_beginAccess`: 15-20 % of the core's time in the core
/// benchmark). An association is only ever used from one thread, by its endpoint; debug
/// builds (every test, the seeded sweep included) keep the run-time checks, so an
/// overlapping access introduced by a change still traps there. (`tx` and `receiver` live
/// behind a pointer, `DataTransferSlot`; debug builds check them with `DataAccessCheck`.)
final class Association {
    let id: AssociationID
    /// Our verification tag: the peer puts it in every packet to us.
    let localTag: UInt32
    /// The endpoint's configuration at setup, shared with the other associations set up with
    /// it (`SharedConfiguration`); the per-association options (`SCTPEndpoint.setRTOParameters`,
    /// `setPathParameters`, ...) change this association's own copy, made on the first change.
    var configuration: SCTPConfiguration {
        _read { yield sharedConfiguration.value }
        _modify {
            if !hasDataState {
                // The data transfer state, made later, is made with the configuration of setup
                // (`initialDataState`): the first change before it exists makes the
                // association's own copy that remembers it, even when nobody else refers to
                // the setup configuration any more (the endpoint's changed since).
                if sharedConfiguration.dataStateBasis == nil {
                    let copy = SharedConfiguration(sharedConfiguration.value, authenticationLists: sharedConfiguration.authenticationLists)
                    copy.dataStateBasis = sharedConfiguration
                    sharedConfiguration = copy
                }
            } else if !isKnownUniquelyReferenced(&sharedConfiguration) {
                sharedConfiguration = SharedConfiguration(sharedConfiguration.value,
                                                          authenticationLists: sharedConfiguration.authenticationLists)
            }
            yield &sharedConfiguration.value
        }
    }
    #if DEBUG
    private(set) var sharedConfiguration: SharedConfiguration
    #else
    @exclusivity(unchecked) private(set) var sharedConfiguration: SharedConfiguration
    #endif
    let localPort: UInt16
    let peerPort: UInt16
    /// The peer's verification tag: we put it in every packet to the peer. (The stored
    /// properties are declared so that small ones fill the gaps before 8-byte ones: one object
    /// per association.)
    var peerTag: UInt32 = 0
    /// Our addresses as the peer knows them: the endpoint's at setup, then changed by the
    /// address reconfiguration (RFC 5061) the peer acknowledged.
    var localAddresses: [IPAddress]
    /// Where the association is in its life, with that phase's data.
    #if DEBUG
    private(set) var phase: AssociationPhase = .closed
    #else
    @exclusivity(unchecked) private(set) var phase: AssociationPhase = .closed
    #endif
    /// The RFC 9260 state (the phase without its data).
    var state: AssociationState { phase.state }
    /// The association-wide timers (T1, T2, T5); per-path timers are in `paths`.
    #if DEBUG
    var timers = TimerTable()
    #else
    @exclusivity(unchecked) var timers = TimerTable()
    #endif

    /// The peer's paths, in the peer's order of addresses; `PathID(i)` is `paths[i]`.
    #if DEBUG
    var paths: [PeerPath] = []
    #else
    @exclusivity(unchecked) var paths: [PeerPath] = []
    #endif
    /// The path new data goes to now (§6.4): the primary, or an alternate while the primary
    /// is failing (potentially failed, inactive, or its T3-rtx expired and it has not
    /// answered since).
    var primaryPath: Int {
        get { Int(storedPrimaryPath) }
        set { storedPrimaryPath = UInt16(newValue) }
    }
    /// The primary path chosen at setup (the first address given to connect, or the peer's
    /// source), remembered while `primaryPath` points to an alternate so that data returns
    /// to it once it answers again (§6.4, RFC 7829).
    var configuredPrimaryPath: Int {
        get { Int(storedConfiguredPrimaryPath) }
        set { storedConfiguredPrimaryPath = UInt16(newValue) }
    }
    // Path indices fit in 16 bits (a peer has at most `maximumPeerAddresses`, ≤ 255, and a
    // few added by ASCONF).
    private var storedPrimaryPath: UInt16 = 0
    private var storedConfiguredPrimaryPath: UInt16 = 0

    #if DEBUG
    var outbox: Deque<Transmit> = []
    #else
    @exclusivity(unchecked) var outbox: Deque<Transmit> = []
    #endif
    /// Control chunks for the next packet (COOKIE ACK, ERROR, ...), sent ahead of SACK and DATA.
    #if DEBUG
    var pendingControl: [Chunk] = []
    #else
    @exclusivity(unchecked) var pendingControl: [Chunk] = []
    #endif
    #if DEBUG
    var events: Deque<SCTPEvent> = []
    #else
    @exclusivity(unchecked) var events: Deque<SCTPEvent> = []
    #endif

    /// The handshake while this side sets the association up (COOKIE-WAIT, COOKIE-ECHOED).
    var handshake: HandshakeProgress? { phase.handshake }

    // Negotiated at setup. The data transfer state is made from them (`makeDataState`): a
    // change once data transfer started (RE-CONFIG adds streams) makes it first, with the
    // counts it would have been made with.
    var outboundStreams: UInt16 = 0 { willSet { makeDataStateIfStarted() } }
    var inboundStreams: UInt16 = 0 { willSet { makeDataStateIfStarted() } }
    var peerReceiverWindow: UInt32 = 0 { willSet { makeDataStateIfStarted() } }
    /// The peer supports FORWARD TSN (and PR-SCTP is on); the transmission queue has a copy.
    var peerSupportsForwardTSN = false {
        didSet { dataSlot.pointer?.pointee.tx.peerSupportsForwardTSN = peerSupportsForwardTSN }
    }
    /// Whether this association sends and accepts I-DATA instead of DATA (RFC 8260, set by
    /// `negotiateInterleaving`); the transmission queue and the receiver have a copy.
    var interleaving = false
    // The flags side by side, then the 4-byte values: no padding between them.
    /// ECN (RFC 9260 Appendix A) is in use: both sides announced ECN Capable.
    var ecnNegotiated = false
    /// Zero checksum (RFC 9653) towards the peer: it announced Zero Checksum Acceptable with
    /// the error detection method we are configured with; our packets then carry a zero
    /// checksum, except those with INIT or COOKIE ECHO.
    var zeroChecksumToPeer = false
    /// The peer announced RE-CONFIG (RFC 6525) in its INIT or INIT ACK.
    var peerSupportsReconfiguration = false
    /// Both ends listed NR-SACK: acknowledgements go as NR-SACK and come as NR-SACK.
    var nonRenegableSacks = false
    /// The peer announced ASCONF and ASCONF-ACK (RFC 5061) in its INIT or INIT ACK.
    var peerSupportsAddressReconfiguration = false
    /// Receiver side of ECN: the TSN to echo in an ECNE with every SACK, from a CE-marked
    /// packet with DATA, until a CWR covering it arrives.
    var ecnEchoTSN: TSN?
    /// The peer's Adaptation Layer Indication (RFC 5061), reported when the association comes up.
    var peerAdaptationIndication: UInt32?
    /// No DATA chunk sent or received so far.
    var carriedNoDataYet: Bool {
        guard let state = dataSlot.pointer else { return true }
        return state.pointee.statistics.dataChunksSent == 0 && state.pointee.statistics.dataChunksReceived == 0
    }
    /// When user data last went out or came in (`SCTP_AUTOCLOSE` counts idleness from it).
    var lastDataActivity: SCTPInstant = .zero
    /// Stream reconfiguration (RFC 6525), both ways; `nil` until data transfer starts or when
    /// either side lacks it.
    var reconfig: ReconfigurationState? {
        get { reconfigurationSlot.state }
        set { reconfigurationSlot.state = newValue }
    }
    #if DEBUG
    var reconfigurationSlot = ReconfigurationSlot.absent
    #else
    @exclusivity(unchecked) var reconfigurationSlot = ReconfigurationSlot.absent
    #endif

    /// Dynamic address reconfiguration (RFC 5061, ASCONF), both ways; `nil` until data
    /// transfer starts or when either side lacks it (`Association+AddressReconfiguration.swift`).
    /// Boxed (`addressReconfigurationBox`): most associations never use it, and it is about
    /// 110 bytes.
    var addressReconfig: AddressReconfigurationState? {
        get { addressReconfigurationBox?.value }
        set {
            guard let newValue else {
                addressReconfigurationBox = nil
                return
            }
            if addressReconfigurationBox != nil && isKnownUniquelyReferenced(&addressReconfigurationBox!) {
                addressReconfigurationBox!.value = newValue
            } else {
                addressReconfigurationBox = ValueBox(newValue)
            }
        }
    }
    private var addressReconfigurationBox: ValueBox<AddressReconfigurationState>?
    /// The local addresses packets may leave from, once this association's addresses
    /// changed (`nil`: the driver chooses among the endpoint's); see `sourceAddress(toward:)`.
    var pinnedSourceAddresses: [IPAddress]?
    /// Our addresses the endpoint no longer has: never a source again.
    var withdrawnSourceAddresses: [IPAddress] = []
    /// What became of our latest address reconfiguration requests (bounded).
    var addressChangeOutcomes: [AddressChangeOutcome] = []
    /// Whether another live association of the endpoint has this peer address (set by the
    /// endpoint): the peer may not add it to this one (RFC 5061).
    func peerAddressOwnedElsewhere(_ address: IPAddress) -> Bool {
        guard let owner = endpoint?.associations.live(peer: address, port: peerPort) else { return false }
        return owner !== self
    }
    /// The endpoint that registered it, for `peerAddressOwnedElsewhere` only (a weak
    /// reference: no allocation per association, where a closure took two).
    weak var endpoint: SCTPEndpoint?
    /// Chunk authentication (RFC 4895, `Association+Auth.swift`): `nil` when we do not announce
    /// it. `authenticationSummary` holds what the packet path reads of it, in trivial values.
    /// While a packet is handled, `currentChunkAuthenticated` says whether the chunk being
    /// processed came after a valid AUTH chunk (RFC 4895 §6.3); parts that need authenticated
    /// chunks (ASCONF) read it.
    #if DEBUG
    var authentication: AuthenticationState? { didSet { refreshAuthenticationSummary() } }
    var authenticationSummary = AuthenticationSummary()
    var currentChunkAuthenticated = false
    #else
    @exclusivity(unchecked) var authentication: AuthenticationState? { didSet { refreshAuthenticationSummary() } }
    @exclusivity(unchecked) var authenticationSummary = AuthenticationSummary()
    @exclusivity(unchecked) var currentChunkAuthenticated = false
    #endif

    // Data transfer.
    /// Our initial TSN.
    let nextTSN: TSN
    /// The peer's initial TSN, once data transfer started (`startDataTransfer`).
    var dataTransferStart: TSN?
    /// The transmission queue, the receiver and the data counters, made on first use
    /// (`DataTransferState.swift`: `tx`, `receiver`, `dataStatistics`). Never replaced once
    /// made: a pointer read from it stays valid for the association's life.
    #if DEBUG
    var dataSlot = DataTransferSlot()
    #else
    @exclusivity(unchecked) var dataSlot = DataTransferSlot()
    #endif

    /// Consecutive unanswered retransmissions and heartbeats (Association.Max.Retrans, §8.1).
    var associationErrorCount: Int {
        get { Int(storedAssociationErrorCount) }
        set { storedAssociationErrorCount = UInt32(clamping: newValue) }
    }

    /// SCTP packets sent and handed to the association (`statistics`; the other counters
    /// are in the data transfer state).
    var packetsSent = 0
    var packetsReceived = 0

    /// Heartbeat nonces and jitter, seeded by the endpoint's injected random source.
    var random: SeededRandomSource

    /// The packet array of the last `transmitData` builder, emptied, for the next one.
    var spareBuilderStorage: [PacketBuilder.Built] = []
    /// The endpoint's packet buffers for reuse (set when it registers the association;
    /// `nil`: every packet's buffer is allocated).
    #if DEBUG
    var packetBuffers: PacketBufferPool?
    #else
    @exclusivity(unchecked) var packetBuffers: PacketBufferPool?
    #endif

    // The endpoint's bookkeeping, kept here so that it needs no look-up by id per packet.
    /// In the endpoint's table (false once removed, or replaced by a restart).
    var isRegistered = false
    /// In the endpoint's list of associations to poll.
    var isPending = false
    /// In the endpoint's list of associations whose deadline must be read again.
    var needsDeadlineRefresh = false
    /// Closed by a graceful shutdown (SHUTDOWN COMPLETE sent or received). (Here: it fills a
    /// gap beside the flags above.)
    private(set) var endedGracefully = false
    /// `associationErrorCount`, in the gap after the flags.
    private var storedAssociationErrorCount: UInt32 = 0
    /// The deadline the endpoint's timer heap holds for it.
    @PackedInstant var scheduledDeadline: SCTPInstant? = nil

    init(id: AssociationID, configuration shared: SharedConfiguration, localPort: UInt16, peerPort: UInt16,
         localAddresses: [IPAddress], localTag: UInt32, initialTSN: TSN, randomSeed: UInt64) {
        self.id = id
        sharedConfiguration = shared
        self.localPort = localPort
        self.peerPort = peerPort
        self.localAddresses = localAddresses
        self.localTag = localTag
        nextTSN = initialTSN
        random = SeededRandomSource(seed: randomSeed)
    }

    // MARK: Outputs

    func pollTransmit() -> Transmit? {
        if let now = transmitOwed { transmitData(now: now) }
        transmitOwed = nil
        guard let transmit = outbox.popFirst() else { return nil }
        packetsSent &+= 1
        // Only an established association's packets are kept for reuse: the handshake's
        // (INIT, COOKIE ECHO) would stay in the pool of an endpoint that sends nothing after.
        if state == .established { packetBuffers?.keep(transmit.datagram) }
        return transmit
    }

    /// Messages were queued since the last transmission, at this instant: they go out at
    /// the next `pollTransmit` (or sooner, with whatever else is sent).
    @PackedInstant var transmitOwed: SCTPInstant? = nil
    func pollEvent() -> SCTPEvent? { events.popFirst() }

    /// The earliest instant at which `handleTimeout` has work to do.
    var nextDeadline: SCTPInstant? {
        var earliest: SCTPInstant? = nil
        func consider(_ deadline: SCTPInstant?) {
            guard let deadline else { return }
            if earliest == nil || deadline < earliest! { earliest = deadline }
        }
        consider(timers.earliest)
        consider(sackDeadline)
        consider(autoCloseDeadline)
        for path in paths {
            consider(path.t3Deadline)
            consider(path.probeDeadline)
            consider(path.heartbeatDeadline)
            consider(path.pmtudDeadline)  // path MTU discovery (Association+PathMTU.swift)
        }
        return earliest
    }

    /// Whether the association has ended and may be removed.
    var isClosed: Bool { state == .closed }

    // MARK: State changes

    func enter(_ newPhase: AssociationPhase) { phase = newPhase }

    /// Ends the association at once: timers stop, data sent and not acknowledged, then data
    /// queued, is reported as failed (RFC 6458 SCTP_SEND_FAILED_EVENT).
    func close(event: SCTPEvent?) {
        guard state != .closed else { return }
        phase = .closed
        if case .shutdownComplete = event { endedGracefully = true }
        timers.stopAll()
        for index in paths.indices {
            paths[index].t3Deadline = nil
            paths[index].probeDeadline = nil
            paths[index].heartbeatDeadline = nil
            if paths[index].pmtudEnabled { paths[index].pmtud.stop() }
        }
        if hasDataState {
            for failed in tx.takeFailures() + tx.removeAll() { events.append(.sendFailed(id, failed)) }
        }
        abandonReconfiguration()
        abandonAddressReconfiguration()
        if let event { events.append(event) }
    }

    // MARK: Sending packets

    var commonHeader: CommonHeader {
        CommonHeader(sourcePort: localPort, destinationPort: peerPort, verificationTag: peerTag)
    }

    var checksumMode: ChecksumMode { zeroChecksumToPeer ? .zero : .crc32c }

    /// Sends control chunks (bundled as far as the MTU allows) to a path; `checksum` overrides
    /// the association's checksum mode (the handshake's packets always carry CRC32c).
    func sendControl(_ chunks: [Chunk], to pathIndex: Int, tag: UInt32? = nil, checksum: ChecksumMode? = nil) {
        guard paths.indices.contains(pathIndex) else { return }
        var header = commonHeader
        if let tag { header.verificationTag = tag }
        var builder = PacketBuilder(header: header, mtu: paths[pathIndex].mtu, destination: paths[pathIndex].address,
                                    checksum: checksum ?? checksumMode)
        if pinnedSourceAddresses != nil { builder.source = sourceAddress(toward: paths[pathIndex].address) }
        builder.initialCapacity = 512
        builder.pool = packetBuffers
        builder.authenticator = packetAuthenticator()
        for chunk in chunks { builder.add(chunk) }
        finishPackets(&builder)
    }

    /// Sends an ABORT with these causes and closes the association.
    func abort(causes: [ErrorCause], reason: LossReason, now: SCTPInstant) {
        if state != .closed && peerTag != 0 {
            sendControl([.abort(AbortChunk(causes: causes))], to: primaryPath)
        }
        let settingUp = state == .cookieWait || state == .cookieEchoed
        let failure: ConnectFailure = reason == .userAborted ? .cancelled : .refused(causes: causes)
        close(event: settingUp ? .cannotStart(id, failure) : .communicationLost(id, reason))
    }

    /// The index of the path to an address, if it is one of the peer's.
    func pathIndex(for address: IPAddress) -> Int? { paths.firstIndex { $0.address == address } }

    // MARK: Timers

    /// Runs every timer that expired at or before `now`.
    func handleTimeout(now: SCTPInstant) {
        if timers.hasExpired(.t1Init, at: now) { t1Expired(now: now) }
        if timers.hasExpired(.t2Shutdown, at: now) { t2Expired(now: now) }
        if timers.hasExpired(.t5ShutdownGuard, at: now) { t5Expired(now: now) }
        if timers.hasExpired(.reconfiguration, at: now) { reconfigurationTimerExpired(now: now) }
        if timers.hasExpired(.addressReconfiguration, at: now) { addressReconfigurationTimerExpired(now: now) }
        if state == .closed { return }
        for index in paths.indices {
            if let deadline = paths[index].t3Deadline, deadline <= now { t3Expired(path: index, now: now) }
            if state == .closed { return }
            if let deadline = paths[index].probeDeadline, deadline <= now { tailLossProbe(path: index, now: now) }
            if let deadline = paths[index].heartbeatDeadline, deadline <= now { heartbeatDue(path: index, now: now) }
            if state == .closed { return }
            if let deadline = paths[index].pmtudDeadline, deadline <= now { pathMTUTimerDue(path: index, now: now) }
        }
        if let deadline = sackDeadline, deadline <= now { sendSack(now: now) }
        if let deadline = autoCloseDeadline, deadline <= now { beginShutdown(now: now) }
    }

    /// `SCTP_AUTOCLOSE`: an established association with nothing queued or unacknowledged,
    /// and no user data either way for `autoClose`, shuts down gracefully.
    var autoCloseDeadline: SCTPInstant? {
        guard let idle = configuration.autoClose, state == .established, isTransmissionIdle else { return nil }
        return lastDataActivity + idle
    }
}
