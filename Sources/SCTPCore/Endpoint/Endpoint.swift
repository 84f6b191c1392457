import DequeModule
import HeapModule
import NIOCore
import SCTPWire

/// An SCTP endpoint (RFC 9260 §2.1): one local port and set of addresses, and the
/// associations it holds. It is sans-IO: the driver hands it datagrams and the time, and
/// polls it for datagrams to send, events, and the next instant it must be woken.
///
/// - `handle(datagram:from:to:now:)` for every SCTP packet that arrives for its port;
/// - `handleTimeout(now:)` when `nextDeadline` is reached;
/// - `connect`, `send`, `shutdown`, `abort` for the user's calls;
/// - `pollTransmit()`, `pollEvent()` until they return `nil`.
public final class SCTPEndpoint {
    /// The protocol parameters and limits. Associations take a copy when they are created,
    /// so a change applies to associations set up afterwards (cookie parameters excepted:
    /// they are fixed when the endpoint is created).
    public var configuration: SCTPConfiguration {
        didSet { initParameters = nil }
    }
    public let localPort: UInt16
    /// The local addresses listed in INIT and INIT ACK. Associations take a copy when they
    /// are created (`bindx` on a bound socket changes them for later associations).
    public var localAddresses: [IPAddress] {
        didSet { initParameters = nil }
    }
    /// The parameters every INIT and INIT ACK lists (`localInitParameters()`), made once
    /// for the current configuration and addresses.
    #if DEBUG
    var initParameters: [Parameter]?
    #else
    @exclusivity(unchecked) var initParameters: [Parameter]?
    #endif
    /// Whether INITs are answered (a listening or one-to-many socket).
    public var acceptsAssociations: Bool
    /// The most receive window (a_rwnd) a new association may offer, whatever
    /// `configuration.receiveBufferSize` says: set by a driver to what its transport can
    /// buffer, such as a UDP socket's receive buffer, so that a peer filling the window never
    /// overruns the socket (the kernel's drops would look like loss). `nil`: no limit.
    public var receiveWindowLimit: Int?

    /// The configuration new associations get: `configuration` with the receive buffer
    /// within `receiveWindowLimit`.
    public var associationConfiguration: SCTPConfiguration {
        guard let limit = receiveWindowLimit, limit < configuration.receiveBufferSize else { return configuration }
        var limited = configuration
        limited.receiveBufferSize = max(limit, 0)
        return limited
    }

    var random: any SCTPRandomSource
    #if DEBUG
    var cookies: CookieSigner
    #else
    @exclusivity(unchecked) var cookies: CookieSigner
    #endif
    #if DEBUG
    private var nextAssociationID: UInt32 = 1
    #else
    @exclusivity(unchecked) private var nextAssociationID: UInt32 = 1
    #endif

    // The tables and queues below are `@exclusivity(unchecked)` in release builds, for the
    // reason `Association` gives; debug builds keep the run-time checks. Those with a
    // private setter are readable in the module for `Endpoint+Invariants.swift`.
    #if DEBUG
    var associations: [AssociationID: Association] = [:]
    #else
    @exclusivity(unchecked) var associations: [AssociationID: Association] = [:]
    #endif
    /// Lookup by our verification tag, which every packet of the association carries.
    #if DEBUG
    var byLocalTag: [UInt32: AssociationID] = [:]
    #else
    @exclusivity(unchecked) var byLocalTag: [UInt32: AssociationID] = [:]
    #endif
    /// Lookup by a peer's transport address, for INIT, COOKIE ECHO collisions and T-bit packets,
    /// and to tell a packet with a wrong tag from a known peer (discarded, §8.5) from one out of the blue.
    #if DEBUG
    var byPeerAddress: [PeerKey: AssociationID] = [:]
    #else
    @exclusivity(unchecked) var byPeerAddress: [PeerKey: AssociationID] = [:]
    #endif

    /// The chunk array of the last packet received, emptied, for the next one to reuse.
    #if DEBUG
    var chunkStorage: [Chunk] = []
    #else
    @exclusivity(unchecked) var chunkStorage: [Chunk] = []
    #endif

    /// Local tags of associations that ended with a graceful shutdown in the last
    /// `closedTagLinger`, oldest first, at most `closedTagMemory`: a late packet carrying one
    /// (a duplicate, or a retransmission that crossed the SHUTDOWN COMPLETE) is answered
    /// with a SHUTDOWN COMPLETE (T bit) where §8.4 would answer with an ABORT: a peer still
    /// in SHUTDOWN-ACK-SENT (its SHUTDOWN COMPLETE lost) then completes gracefully, where
    /// usrsctp took the ABORT as the association's abort; a closed peer discards it.
    #if DEBUG
    var recentlyClosed: Deque<(tag: UInt32, until: SCTPInstant)> = []
    #else
    @exclusivity(unchecked) var recentlyClosed: Deque<(tag: UInt32, until: SCTPInstant)> = []
    #endif
    #if DEBUG
    var recentlyClosedTags: Set<UInt32> = []
    #else
    @exclusivity(unchecked) var recentlyClosedTags: Set<UInt32> = []
    #endif
    static let closedTagMemory = 1024
    static let closedTagLinger: Duration = .seconds(5)
    /// The latest time a call brought (`handle`, `handleTimeout`): when closed associations are reaped.
    #if DEBUG
    var latestNow = SCTPInstant.zero
    #else
    @exclusivity(unchecked) var latestNow = SCTPInstant.zero
    #endif
    /// Packets the endpoint itself sends (INIT ACK, out-of-the-blue answers).
    #if DEBUG
    var outbox: Deque<Transmit> = []
    #else
    @exclusivity(unchecked) var outbox: Deque<Transmit> = []
    #endif
    #if DEBUG
    var events: Deque<SCTPEvent> = []
    #else
    @exclusivity(unchecked) var events: Deque<SCTPEvent> = []
    #endif
    /// Associations with something to poll, each once (`Association.isPending`).
    #if DEBUG
    private(set) var pending: Deque<Association> = []
    #else
    @exclusivity(unchecked) private(set) var pending: Deque<Association> = []
    #endif
    /// Timers: each association's next deadline, in a min-heap. An entry is current when it
    /// matches the `scheduledDeadline` of the association now registered under its id;
    /// others are stale and dropped when they reach the top. (Ids, not references: a stale
    /// entry must not keep a removed association's memory alive.)
    #if DEBUG
    private(set) var timerHeap = Heap<TimerEntry>()
    #else
    @exclusivity(unchecked) private(set) var timerHeap = Heap<TimerEntry>()
    #endif
    /// Associations with a deadline scheduled (a current entry in `timerHeap`).
    #if DEBUG
    private(set) var scheduledCount = 0
    #else
    @exclusivity(unchecked) private(set) var scheduledCount = 0
    #endif
    /// Associations touched since their deadline was last read, each once
    /// (`Association.needsDeadlineRefresh`).
    #if DEBUG
    private(set) var deadlinesToRefresh: [Association] = []
    #else
    @exclusivity(unchecked) private(set) var deadlinesToRefresh: [Association] = []
    #endif
    /// The association the latest look-up by id found, and the latest found by local tag:
    /// most calls and packets are for the same association as the one before. Both are
    /// cleared whenever the tables change (`tablesChanged()`), so a cached answer is always
    /// the one the tables would give.
    #if DEBUG
    private var lastByID: Association?
    #else
    @exclusivity(unchecked) private var lastByID: Association?
    #endif
    #if DEBUG
    private var lastByTag: Association?
    #else
    @exclusivity(unchecked) private var lastByTag: Association?
    #endif

    struct TimerEntry: Comparable {
        var deadline: SCTPInstant
        var id: AssociationID
        static func < (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline < b.deadline }
        static func == (a: TimerEntry, b: TimerEntry) -> Bool { a.deadline == b.deadline && a.id == b.id }
    }

    struct PeerKey: Hashable {
        var address: IPAddress
        var port: UInt16
    }

    /// An endpoint bound to `localPort` on `localAddresses` (explicit addresses, which INIT
    /// and INIT ACK list to the peer). `random` supplies tags, TSNs and the cookie secret.
    public init(configuration: SCTPConfiguration = SCTPConfiguration(), localPort: UInt16,
                localAddresses: [IPAddress], acceptsAssociations: Bool = false,
                random: any SCTPRandomSource, now: SCTPInstant) {
        self.configuration = configuration
        self.localPort = localPort
        self.localAddresses = localAddresses
        self.acceptsAssociations = acceptsAssociations
        var random = random
        cookies = CookieSigner(secret: Self.randomSecret(&random), now: now, configuration: CookieSigner.Configuration(
            validCookieLife: configuration.validCookieLife, maximumLifeIncrement: configuration.maxCookieLifeIncrement,
            secretLifetime: configuration.cookieSecretLifetime, maximumPeerAddresses: configuration.maxPeerAddresses))
        self.random = random
    }

    static func randomSecret(_ random: inout any SCTPRandomSource) -> CookieSecret {
        var secret = [UInt8](repeating: 0, count: 32)
        secret.withUnsafeMutableBytes { random.fill($0) }
        return CookieSecret(bytes: secret)!
    }

    // MARK: Queries

    /// The ids of the associations alive now.
    public var associationIDs: [AssociationID] { associations.keys.sorted { $0.rawValue < $1.rawValue } }

    /// The state of an association, `nil` once it is gone.
    public func state(of id: AssociationID) -> AssociationState? { associations[id]?.state }

    /// The peer's addresses and their states (`sctp_getpaddrs`, `SCTP_GET_PEER_ADDR_INFO`).
    public func peerAddresses(of id: AssociationID) -> [(address: IPAddress, state: PathState)] {
        associations[id]?.paths.map { ($0.address, $0.state) } ?? []
    }

    /// The address new data goes to.
    public func primaryAddress(of id: AssociationID) -> IPAddress? {
        guard let association = associations[id], association.paths.indices.contains(association.primaryPath) else { return nil }
        return association.paths[association.primaryPath].address
    }

    /// The negotiated stream counts.
    public func streams(of id: AssociationID) -> (outbound: UInt16, inbound: UInt16)? {
        associations[id].map { ($0.outboundStreams, $0.inboundStreams) }
    }

    /// The peer's port of an association.
    public func peerPort(of id: AssociationID) -> UInt16? { associations[id]?.peerPort }

    // MARK: Outputs

    /// The next datagram to send, or `nil`.
    public func pollTransmit() -> Transmit? {
        if let transmit = outbox.popFirst() { return transmit }
        for association in pending where association.isRegistered {
            // Data queued by `send` goes out here, and sending arms T3-rtx: the association's
            // deadline must be read again, even if `nextDeadline` was read since the send.
            if association.transmitOwed != nil { deadlineChanged(association) }
            if let transmit = association.pollTransmit() { return transmit }
        }
        cleanUpPending()
        return nil
    }

    /// The next event, or `nil`.
    public func pollEvent() -> SCTPEvent? {
        if let event = events.popFirst() { return event }
        for association in pending where association.isRegistered {
            if let event = association.pollEvent() { return event }
        }
        cleanUpPending()
        return nil
    }

    /// Forgets associations with nothing left to poll, and removes closed ones for good.
    private func cleanUpPending() {
        guard !pending.isEmpty else { return }
        pending.removeAll { association in
            guard association.isRegistered else {
                association.isPending = false
                return true
            }
            guard association.outbox.isEmpty && association.events.isEmpty && association.transmitOwed == nil else { return false }
            reapIfClosed(association)
            association.isPending = false
            // An idle association keeps no spare packet array (memory per idle association);
            // one sending data keeps it from one transmission to the next.
            if association.sender.isIdle && association.spareBuilderStorage.capacity > 0 {
                association.spareBuilderStorage = []
            }
            return true
        }
    }

    /// The earliest instant `handleTimeout` must be called at. O(log n) in the number of
    /// associations: only those touched since the last call are looked at.
    public var nextDeadline: SCTPInstant? {
        refreshDeadlines()
        var earliest: SCTPInstant? = cookies.nextRotation
        if let top = currentTop(), earliest == nil || top.deadline < earliest! { earliest = top.deadline }
        return earliest
    }

    /// Reads the deadlines of the associations touched since the last time.
    private func refreshDeadlines() {
        guard !deadlinesToRefresh.isEmpty else { return }
        for association in deadlinesToRefresh {
            association.needsDeadlineRefresh = false
            guard association.isRegistered else { continue }
            let deadline = association.nextDeadline
            let previous = association.scheduledDeadline
            guard deadline != previous else { continue }
            association.scheduledDeadline = deadline
            if previous == nil { scheduledCount += 1 }
            if let deadline {
                timerHeap.insert(TimerEntry(deadline: deadline, id: association.id))
            } else {
                scheduledCount -= 1
            }
        }
        deadlinesToRefresh.removeAll(keepingCapacity: true)
        // Stale entries drain as time passes; rebuild if they pile up.
        if timerHeap.count > 4 * scheduledCount + 64 {
            timerHeap = Heap(associations.values.compactMap { association in
                association.scheduledDeadline.map { TimerEntry(deadline: $0, id: association.id) }
            })
        }
    }

    /// The earliest current timer entry, dropping stale ones above it.
    private func currentTop() -> (deadline: SCTPInstant, association: Association)? {
        while let top = timerHeap.min {
            if let association = association(top.id), association.scheduledDeadline == top.deadline {
                return (top.deadline, association)
            }
            timerHeap.removeMin()
        }
        return nil
    }

    // MARK: Inputs

    /// Runs every timer due at `now`.
    public func handleTimeout(now: SCTPInstant) {
        latestNow = max(latestNow, now)
        if let rotation = cookies.nextRotation, rotation <= now {
            cookies.rotate(newSecret: Self.randomSecret(&random), now: now)
        }
        refreshDeadlines()
        var due: [Association] = []
        while let top = currentTop(), top.deadline <= now {
            timerHeap.removeMin()
            unschedule(top.association)
            due.append(top.association)
        }
        for association in due where association.isRegistered {
            association.handleTimeout(now: now)
            markPending(association)
        }
    }

    /// Marks an association as having something to poll and its deadline as changed.
    func markPending(_ association: Association) {
        if !association.isPending {
            association.isPending = true
            pending.append(association)
        }
        deadlineChanged(association)
    }

    /// Marks an association's deadline as changed, to be read again at the next `nextDeadline`.
    func deadlineChanged(_ association: Association) {
        if !association.needsDeadlineRefresh {
            association.needsDeadlineRefresh = true
            deadlinesToRefresh.append(association)
        }
    }

    /// Drops an association's scheduled deadline (its heap entries become stale).
    private func unschedule(_ association: Association) {
        if association.scheduledDeadline != nil {
            association.scheduledDeadline = nil
            scheduledCount -= 1
        }
    }

    /// Removes a closed association once everything it produced has been polled.
    private func reapIfClosed(_ association: Association) {
        guard association.isClosed, association.outbox.isEmpty, association.events.isEmpty else { return }
        if association.endedGracefully { rememberClosed(tag: association.localTag) }
        associations[association.id] = nil
        unschedule(association)
        association.isRegistered = false
        unregister(association)
    }

    private func forgetExpiredClosed(now: SCTPInstant) {
        while let oldest = recentlyClosed.first, oldest.until <= now || recentlyClosed.count > Self.closedTagMemory {
            recentlyClosed.removeFirst()
            // (Two closed associations with one random 32-bit tag: the later one is forgotten early.)
            recentlyClosedTags.remove(oldest.tag)
        }
    }

    private func rememberClosed(tag: UInt32) {
        recentlyClosed.append((tag, latestNow + Self.closedTagLinger))
        recentlyClosedTags.insert(tag)
        forgetExpiredClosed(now: latestNow)
    }

    /// Whether `tag` was the local tag of an association that ended gracefully moments ago.
    func closedRecently(tag: UInt32, now: SCTPInstant) -> Bool {
        guard !recentlyClosedTags.isEmpty else { return false }
        forgetExpiredClosed(now: now)
        return recentlyClosedTags.contains(tag)
    }

    /// Removes an association's entries from the lookup tables (those that still point to it).
    func unregister(_ association: Association) {
        let id = association.id
        if byLocalTag[association.localTag] == id { byLocalTag[association.localTag] = nil }
        for path in association.paths {
            let key = PeerKey(address: path.address, port: association.peerPort)
            if byPeerAddress[key] == id { byPeerAddress[key] = nil }
        }
        tablesChanged()
    }

    /// Forgets the cached look-ups after a change of `associations` or `byLocalTag`.
    func tablesChanged() {
        lastByID = nil
        lastByTag = nil
    }

    /// The association with an id (alive or closed and not yet removed).
    func association(_ id: AssociationID) -> Association? {
        if let last = lastByID, last.id == id { return last }
        let found = associations[id]
        lastByID = found
        return found
    }

    /// The association that owns a peer transport address, if it is alive.
    func liveAssociation(peer address: IPAddress, port: UInt16) -> Association? {
        guard let id = byPeerAddress[PeerKey(address: address, port: port)], let association = associations[id],
              !association.isClosed else { return nil }
        return association
    }

    /// The association that owns a local verification tag, if it is alive.
    func liveAssociation(localTag tag: UInt32) -> Association? {
        if let last = lastByTag, last.localTag == tag { return last.isClosed ? nil : last }
        guard let id = byLocalTag[tag], let association = associations[id] else { return nil }
        // Only the owner of the tag's entry: the tables give the same answer until they change.
        if association.localTag == tag { lastByTag = association }
        return association.isClosed ? nil : association
    }

    /// A fresh verification tag, unique among this endpoint's associations and never 0.
    func newLocalTag() -> UInt32 {
        while true {
            let tag = random.nextVerificationTag()
            if byLocalTag[tag] == nil { return tag }
        }
    }

    func newAssociationID() -> AssociationID {
        while true {
            let id = AssociationID(nextAssociationID)
            nextAssociationID = nextAssociationID == .max ? 1 : nextAssociationID + 1
            if associations[id] == nil { return id }
        }
    }

    func register(_ association: Association) {
        if let replaced = associations[association.id], replaced !== association {
            // A restart: the old object is gone for good; what it still held is not polled,
            // and the new one takes its place among the associations to poll.
            replaced.isRegistered = false
            unschedule(replaced)
            if replaced.isPending, let index = pending.firstIndex(where: { $0 === replaced }) {
                replaced.isPending = false
                pending[index] = association
                association.isPending = true
            }
        }
        associations[association.id] = association
        association.isRegistered = true
        byLocalTag[association.localTag] = association.id
        for path in association.paths {
            byPeerAddress[PeerKey(address: path.address, port: association.peerPort)] = association.id
        }
        tablesChanged()
        markPending(association)
    }

    /// Re-indexes an association's peer addresses after they changed (INIT ACK, ASCONF).
    func reindexPeerAddresses(_ association: Association, previous: [IPAddress]) {
        let paths = association.paths
        if previous.count == paths.count && zip(previous, paths).allSatisfy({ $0 == $1.address }) {
            // The same addresses (the usual INIT ACK): one look-up each, not a removal and an insertion.
            for path in paths {
                let key = PeerKey(address: path.address, port: association.peerPort)
                if byPeerAddress[key] != association.id { byPeerAddress[key] = association.id }
            }
            return
        }
        for address in previous {
            let key = PeerKey(address: address, port: association.peerPort)
            if byPeerAddress[key] == association.id { byPeerAddress[key] = nil }
        }
        for path in association.paths {
            byPeerAddress[PeerKey(address: path.address, port: association.peerPort)] = association.id
        }
    }
}
