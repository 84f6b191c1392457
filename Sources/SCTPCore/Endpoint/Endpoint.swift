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
        didSet {
            // The same value again (a socket sets its configuration before each connect)
            // keeps what was made from it: the INIT parameters, the AUTH template, the cookie
            // signer's settings.
            guard configuration != oldValue else { return }
            initParameters = nil
            sharedConfiguration = nil
            localAuthVectorTemplate = nil
            cookies.reconfigure(Self.cookieConfiguration(configuration))
        }
    }
    /// Our AUTH key vector for `configuration`, with a zero RANDOM, and its CHUNKS and
    /// HMAC-ALGO parameters' bytes (`newLocalAuthVector`, `appendLocalAuthParameters`); `nil` until first
    /// needed and after a change.
    var localAuthVectorTemplate: LocalAuthVectorTemplate?
    public let localPort: UInt16
    /// The local addresses listed in INIT and INIT ACK. Associations take a copy when they
    /// are created (`bindx` on a bound socket changes them for later associations).
    public var localAddresses: [IPAddress] {
        didSet { initParameters = nil }
    }
    /// Addresses `removeLocalAddresses` removed lately (at most 16): out-of-the-blue answers to
    /// packets sent to them still leave from them.
    var removedLocalAddresses: [IPAddress] = []
    /// The parameters every INIT and every INIT ACK lists (`localInitParameters(initAck:)`), made
    /// once for the current configuration and addresses.
    #if DEBUG
    var initParameters: LocalInitParameters?
    #else
    @exclusivity(unchecked) var initParameters: LocalInitParameters?
    #endif
    /// Whether INITs are answered (a listening or one-to-many socket).
    public var acceptsAssociations: Bool
    /// Which shard of a reuse-port group steered by verification tag this endpoint is
    /// (docs/SHARDING.md): every local tag it draws (INIT, INIT ACK) has
    /// `tag % shard.count == shard.index`, so the peer's packets, which carry it, reach this
    /// endpoint's socket. `nil`: any tag. Association ids follow it too (`id % count ==
    /// index`), so an id names its shard; set it before the first association.
    public var tagShard: TagShard? {
        didSet { associations.setIDShard(tagShard) }
    }
    /// The directory the shards of a sharded endpoint share (`SCTPShardDirectory`): told of
    /// every peer address this shard's associations own, and asked where a packet without an
    /// association here belongs. Used only with a `tagShard` of more than one shard.
    public var shardDirectory: (any SCTPShardDirectory)? {
        didSet { associations.setDirectory(shardDirectory, shard: tagShard?.index ?? 0) }
    }
    /// The most receive window (a_rwnd) a new association may offer, whatever
    /// `configuration.receiveBufferSize` says: set by a driver to what its transport can
    /// buffer, such as a UDP socket's receive buffer, so that a peer filling the window never
    /// overruns the socket (the kernel's drops would look like loss). `nil`: no limit.
    public var receiveWindowLimit: Int? {
        didSet { sharedConfiguration = nil }
    }

    /// The configuration new associations get: `configuration` with the receive buffer
    /// within `receiveWindowLimit`.
    public var associationConfiguration: SCTPConfiguration {
        guard let limit = receiveWindowLimit, limit < configuration.receiveBufferSize else { return configuration }
        var limited = configuration
        limited.receiveBufferSize = max(limit, 0)
        return limited
    }

    /// `associationConfiguration`, made once and shared by the associations set up with it
    /// (`SharedConfiguration`); `nil` after a change of what it is made from.
    private var sharedConfiguration: SharedConfiguration?
    var sharedAssociationConfiguration: SharedConfiguration {
        if let sharedConfiguration { return sharedConfiguration }
        let shared = SharedConfiguration(associationConfiguration)
        sharedConfiguration = shared
        return shared
    }

    var random: any SCTPRandomSource
    #if DEBUG
    var cookies: CookieSigner
    #else
    @exclusivity(unchecked) var cookies: CookieSigner
    #endif

    // The tables and queues below are `@exclusivity(unchecked)` in release builds, for the
    // reason `Association` gives; debug builds keep the run-time checks.
    /// The associations and the tables that find them.
    #if DEBUG
    var associations = AssociationTable()
    #else
    @exclusivity(unchecked) var associations = AssociationTable()
    #endif
    /// Associations to poll, and the timers of all.
    #if DEBUG
    private(set) var schedule = AssociationSchedule()
    #else
    @exclusivity(unchecked) private(set) var schedule = AssociationSchedule()
    #endif
    /// Local tags of associations that just ended gracefully (late packets for them are
    /// answered with SHUTDOWN COMPLETE).
    #if DEBUG
    var recentlyClosed = RecentlyClosedTags()
    #else
    @exclusivity(unchecked) var recentlyClosed = RecentlyClosedTags()
    #endif
    /// How long the tag of an association that ended gracefully is remembered.
    static var closedTagLinger: Duration { RecentlyClosedTags.linger }

    /// The chunk array of the last packet received, emptied, for the next one to reuse.
    #if DEBUG
    var chunkStorage: [Chunk] = []
    #else
    @exclusivity(unchecked) var chunkStorage: [Chunk] = []
    #endif
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
    /// Packet buffers the associations reuse (`PacketBufferPool`).
    let packetBuffers = PacketBufferPool()

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
        cookies = CookieSigner(secret: Self.randomSecret(&random), now: now, configuration: Self.cookieConfiguration(configuration))
        self.random = random
    }

    /// The cookie signer's limits for `configuration`: it keeps as many peer addresses as
    /// the endpoint accepts (`peerAddressLimit`, within what a cookie holds).
    static func cookieConfiguration(_ configuration: SCTPConfiguration) -> CookieSigner.Configuration {
        CookieSigner.Configuration(validCookieLife: configuration.validCookieLife,
                                   maximumLifeIncrement: configuration.maxCookieLifeIncrement,
                                   secretLifetime: configuration.cookieSecretLifetime,
                                   maximumPeerAddresses: configuration.peerAddressLimit)
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
        for association in schedule.pending where association.isRegistered {
            // Data queued by `send` goes out here, and sending arms T3-rtx: the association's
            // deadline must be read again, even if `nextDeadline` was read since the send.
            if association.transmitOwed != nil { schedule.deadlineChanged(association) }
            if let transmit = association.pollTransmit() { return transmit }
        }
        cleanUpPending()
        return nil
    }

    /// The next event, or `nil`.
    public func pollEvent() -> SCTPEvent? {
        if let event = events.popFirst() { return event }
        for association in schedule.pending where association.isRegistered {
            if let event = association.pollEvent() { return event }
        }
        cleanUpPending()
        return nil
    }

    /// Forgets associations with nothing left to poll, and removes closed ones for good.
    private func cleanUpPending() {
        var reaped: [Association] = []
        schedule.removePending { association in
            guard association.isRegistered else { return true }
            guard association.outbox.isEmpty && association.events.isEmpty && association.transmitOwed == nil else { return false }
            if association.isClosed { reaped.append(association) }
            // An idle association keeps no spare packet array (memory per idle association);
            // one sending data keeps it from one transmission to the next, and so does one
            // receiving data at this instant (its SACKs are built in it: dropped after every
            // poll, the receiver of a bulk transfer allocated an array every few dozen packets).
            let dataMovedNow = !association.carriedNoDataYet && association.lastDataActivity >= latestNow
            if association.isTransmissionIdle && !dataMovedNow && association.spareBuilderStorage.capacity > 0 {
                association.spareBuilderStorage = []
            }
            // Nor the storage of its emptied packet and event queues (about 200 bytes), unless
            // user data moved at this instant (a transfer keeps them from one poll to the next).
            if !dataMovedNow {
                association.outbox = []
                association.events = []
            }
            return true
        }
        for association in reaped { reap(association) }
    }

    /// The earliest instant `handleTimeout` must be called at. O(log n) in the number of
    /// associations: only those touched since the last call are looked at.
    public var nextDeadline: SCTPInstant? {
        var next = cookies.nextRotation
        if let deadline = schedule.earliestDeadline(in: associations) { next = next.map { min($0, deadline) } ?? deadline }
        // With no association left, nothing else calls `handleTimeout` to trim the pool.
        if associations.isEmpty, let trim = packetBuffers.idleDeadline { next = next.map { min($0, trim) } ?? trim }
        return next
    }

    // MARK: Inputs

    /// Runs every timer due at `now`.
    public func handleTimeout(now: SCTPInstant) {
        latestNow = max(latestNow, now)
        packetBuffers.trim(now: now)
        if let rotation = cookies.nextRotation, rotation <= now {
            cookies.rotate(newSecret: Self.randomSecret(&random), now: now)
        }
        let due = schedule.takeDue(at: now, in: associations)
        for association in due where association.isRegistered {
            association.handleTimeout(now: now)
            markPending(association)
        }
    }

    /// Marks an association as having something to poll and its deadline as changed.
    func markPending(_ association: Association) { schedule.markPending(association) }

    /// Removes a closed association once everything it produced has been polled.
    private func reap(_ association: Association) {
        if association.endedGracefully { recentlyClosed.remember(association.localTag, now: latestNow) }
        schedule.unschedule(association)
        association.isRegistered = false
        associations.remove(association)
        if associations.isEmpty { packetBuffers.noteIdle(now: latestNow) }
    }

    /// Whether `tag` was the local tag of an association that ended gracefully moments ago.
    func closedRecently(tag: UInt32, now: SCTPInstant) -> Bool { recentlyClosed.contains(tag, now: now) }

    /// Removes an association's entries from the lookup tables (those that still point to it).
    func unregister(_ association: Association) { associations.removeEntries(of: association) }

    /// The association with an id (alive or closed and not yet removed).
    func association(_ id: AssociationID) -> Association? { associations.lookUp(id) }

    /// The association that owns a peer transport address, if it is alive.
    func liveAssociation(peer address: IPAddress, port: UInt16) -> Association? { associations.live(peer: address, port: port) }

    /// The association that owns a local verification tag, if it is alive.
    func liveAssociation(localTag tag: UInt32) -> Association? { associations.live(localTag: tag) }

    /// A fresh verification tag, unique among this endpoint's associations and never 0.
    func newLocalTag() -> UInt32 {
        while true {
            var tag = random.nextVerificationTag()
            if let shard = tagShard, shard.count > 1 {
                // Down to the shard's residue within the same block of `count` values: 32 bits
                // of randomness less log2(count). A value past UInt32.max or 0 is drawn again.
                let adjusted = UInt64(tag) - UInt64(tag % shard.count) + UInt64(shard.index)
                guard adjusted != 0, adjusted <= UInt64(UInt32.max) else { continue }
                tag = UInt32(adjusted)
            }
            if !associations.containsLocalTag(tag) { return tag }
        }
    }

    func newAssociationID() -> AssociationID { associations.newID() }

    /// Adds an association to the tables (in place of the one a restart replaced).
    func register(_ association: Association) {
        if let replaced = associations.insert(association) {
            // A restart: the old object is gone for good; what it still held is not polled,
            // and the new one takes its place among the associations to poll.
            replaced.isRegistered = false
            schedule.replace(replaced, with: association)
        }
        association.isRegistered = true
        association.endpoint = self
        association.packetBuffers = packetBuffers
        markPending(association)
    }

    /// Re-indexes an association's peer addresses after they changed (INIT ACK, ASCONF).
    func reindexPeerAddresses(_ association: Association, previous: [IPAddress]) {
        associations.reindexPeerAddresses(of: association, previous: previous)
    }
}

/// One shard of `count` (`SCTPEndpoint.tagShard`): the local verification tags an endpoint
/// draws are those with `tag % count == index`.
public struct TagShard: Hashable, Sendable {
    public let index: UInt32
    public let count: UInt32

    /// `nil` unless `index < count` and `count` is 1...1024.
    public init?(index: UInt32, count: UInt32) {
        guard (1...1024).contains(count), index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// Whether `tag` maps to this shard.
    public func owns(_ tag: UInt32) -> Bool { tag % count == index }
}
