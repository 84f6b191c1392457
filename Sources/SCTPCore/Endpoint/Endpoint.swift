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
    public var configuration: SCTPConfiguration
    public let localPort: UInt16
    /// The local addresses listed in INIT and INIT ACK. Associations take a copy when they
    /// are created (`bindx` on a bound socket changes them for later associations).
    public var localAddresses: [IPAddress]
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
    var cookies: CookieSigner
    private var nextAssociationID: UInt32 = 1

    var associations: [AssociationID: Association] = [:]
    /// Lookup by our verification tag, which every packet of the association carries.
    var byLocalTag: [UInt32: AssociationID] = [:]
    /// Lookup by a peer's transport address, for INIT, COOKIE ECHO collisions and T-bit packets,
    /// and to tell a packet with a wrong tag from a known peer (discarded, §8.5) from one out of the blue.
    var byPeerAddress: [PeerKey: AssociationID] = [:]

    /// Packets the endpoint itself sends (INIT ACK, out-of-the-blue answers).
    var outbox: Deque<Transmit> = []
    var events: Deque<SCTPEvent> = []
    /// Associations with something to poll.
    private var pending: Deque<AssociationID> = []
    private var pendingSet: Set<AssociationID> = []
    /// Timers: each association's next deadline, in a min-heap. An entry is current when it
    /// matches `scheduledDeadlines`; others are stale and dropped when they reach the top.
    private var timerHeap = Heap<TimerEntry>()
    private var scheduledDeadlines: [AssociationID: SCTPInstant] = [:]
    /// Associations touched since their deadline was last read.
    private var deadlinesToRefresh: Set<AssociationID> = []

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
        for id in pending {
            if let transmit = associations[id]?.pollTransmit() { return transmit }
        }
        cleanUpPending()
        return nil
    }

    /// The next event, or `nil`.
    public func pollEvent() -> SCTPEvent? {
        if let event = events.popFirst() { return event }
        for id in pending {
            if let event = associations[id]?.pollEvent() { return event }
        }
        cleanUpPending()
        return nil
    }

    /// Forgets associations with nothing left to poll, and removes closed ones for good.
    private func cleanUpPending() {
        pending.removeAll { id in
            guard let association = associations[id] else {
                pendingSet.remove(id)
                return true
            }
            guard association.outbox.isEmpty && association.events.isEmpty else { return false }
            reapIfClosed(id)
            pendingSet.remove(id)
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
        for id in deadlinesToRefresh {
            let deadline = associations[id]?.nextDeadline
            guard deadline != scheduledDeadlines[id] else { continue }
            scheduledDeadlines[id] = deadline
            if let deadline { timerHeap.insert(TimerEntry(deadline: deadline, id: id)) }
        }
        deadlinesToRefresh.removeAll(keepingCapacity: true)
        // Stale entries drain as time passes; rebuild if they pile up.
        if timerHeap.count > 4 * scheduledDeadlines.count + 64 {
            timerHeap = Heap(scheduledDeadlines.map { TimerEntry(deadline: $0.value, id: $0.key) })
        }
    }

    /// The earliest current timer entry, dropping stale ones above it.
    private func currentTop() -> TimerEntry? {
        while let top = timerHeap.min {
            if scheduledDeadlines[top.id] == top.deadline { return top }
            timerHeap.removeMin()
        }
        return nil
    }

    // MARK: Inputs

    /// Runs every timer due at `now`.
    public func handleTimeout(now: SCTPInstant) {
        if let rotation = cookies.nextRotation, rotation <= now {
            cookies.rotate(newSecret: Self.randomSecret(&random), now: now)
        }
        refreshDeadlines()
        var due: [AssociationID] = []
        while let top = currentTop(), top.deadline <= now {
            timerHeap.removeMin()
            scheduledDeadlines[top.id] = nil
            due.append(top.id)
        }
        for id in due {
            associations[id]?.handleTimeout(now: now)
            markPending(id)
        }
    }

    func markPending(_ id: AssociationID) {
        if pendingSet.insert(id).inserted { pending.append(id) }
        deadlinesToRefresh.insert(id)
    }

    /// Removes a closed association once everything it produced has been polled.
    private func reapIfClosed(_ id: AssociationID) {
        guard let association = associations[id], association.isClosed,
              association.outbox.isEmpty, association.events.isEmpty else { return }
        associations[id] = nil
        scheduledDeadlines[id] = nil
        unregister(association)
    }

    /// Removes an association's entries from the lookup tables (those that still point to it).
    func unregister(_ association: Association) {
        let id = association.id
        if byLocalTag[association.localTag] == id { byLocalTag[association.localTag] = nil }
        for path in association.paths {
            let key = PeerKey(address: path.address, port: association.peerPort)
            if byPeerAddress[key] == id { byPeerAddress[key] = nil }
        }
    }

    /// The association that owns a peer transport address, if it is alive.
    func liveAssociation(peer address: IPAddress, port: UInt16) -> Association? {
        guard let id = byPeerAddress[PeerKey(address: address, port: port)], let association = associations[id],
              !association.isClosed else { return nil }
        return association
    }

    /// The association that owns a local verification tag, if it is alive.
    func liveAssociation(localTag tag: UInt32) -> Association? {
        guard let id = byLocalTag[tag], let association = associations[id], !association.isClosed else { return nil }
        return association
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
        associations[association.id] = association
        byLocalTag[association.localTag] = association.id
        for path in association.paths {
            byPeerAddress[PeerKey(address: path.address, port: association.peerPort)] = association.id
        }
        markPending(association.id)
    }

    /// Re-indexes an association's peer addresses after they changed (INIT ACK, ASCONF).
    func reindexPeerAddresses(_ association: Association, previous: [IPAddress]) {
        for address in previous {
            let key = PeerKey(address: address, port: association.peerPort)
            if byPeerAddress[key] == association.id { byPeerAddress[key] = nil }
        }
        for path in association.paths {
            byPeerAddress[PeerKey(address: path.address, port: association.peerPort)] = association.id
        }
    }
}
