import DequeModule
import Logging
import NIOCore
import SCTPCore
import SCTPWire

/// Receives the events of the associations an `EndpointDriver` routes to it (a socket, or
/// the callback of a `UDPEncapsulationEndpoint`). Called on the driver's event loop.
protocol EndpointEventSink: AnyObject {
    func endpointDriver(_ driver: EndpointDriver, deliver event: SCTPEvent)
}

/// Runs one sans-IO `SCTPEndpoint` on its stack's event loop, and is the only owner of it:
/// sockets and `UDPEncapsulationEndpoint` call the driver, never the endpoint.
///
/// The driver owns what the core must not touch: the clock (the stack's), one timer re-armed
/// to the core's next deadline, and the promises of user calls waiting for the core
/// (connect, shutdown, sends blocked on a full send buffer). Datagrams come in from the
/// stack's transport and go out through it. Everything here runs on `eventLoop` only
/// (hence `@unchecked Sendable`: it is handed between closures, never used off the loop).
final class EndpointDriver: @unchecked Sendable {
    let stack: SCTPStack
    private let endpoint: SCTPEndpoint
    var eventLoop: any EventLoop { stack.eventLoop }
    /// The peer's UDP port for addresses it has not been learned from (`SCTP_REMOTE_UDP_ENCAPS_PORT`).
    var remoteUDPPort: Int?

    /// Where events go: per association, else to `defaultSink`. Held weakly: a socket the
    /// user dropped without closing goes away (and lets go of the endpoint in its deinit).
    #if DEBUG
    private var sinks: [AssociationID: WeakSink] = [:]
    #else
    @exclusivity(unchecked) private var sinks: [AssociationID: WeakSink] = [:]
    #endif
    weak var defaultSink: (any EndpointEventSink)? {
        didSet { sinkVersion &+= 1 }
    }
    /// Changes with `defaultSink`: `flush` reads the weak reference once per round of
    /// events, and again only after a change (a weak load per event, and the reference
    /// counting of an object with a side table, was 5 % of a process receiving small messages).
    #if DEBUG
    private var sinkVersion = 0
    #else
    @exclusivity(unchecked) private var sinkVersion = 0
    #endif

    struct WeakSink {
        weak var sink: (any EndpointEventSink)?
    }

    #if DEBUG
    private var timer: Scheduled<Void>?
    #else
    @exclusivity(unchecked) private var timer: Scheduled<Void>?
    #endif
    #if DEBUG
    private var timerDeadline: SCTPInstant?
    #else
    @exclusivity(unchecked) private var timerDeadline: SCTPInstant?
    #endif
    #if DEBUG
    private var connectPromises: [AssociationID: EventLoopPromise<AssociationID>] = [:]
    #else
    @exclusivity(unchecked) private var connectPromises: [AssociationID: EventLoopPromise<AssociationID>] = [:]
    #endif
    #if DEBUG
    private var shutdownPromises: [AssociationID: EventLoopPromise<Void>] = [:]
    #else
    @exclusivity(unchecked) private var shutdownPromises: [AssociationID: EventLoopPromise<Void>] = [:]
    #endif
    #if DEBUG
    private var blockedSends: [AssociationID: Deque<(message: OutgoingMessage, promise: EventLoopPromise<Void>?, tag: UInt64?)>] = [:]
    #else
    @exclusivity(unchecked) private var blockedSends: [AssociationID: Deque<(message: OutgoingMessage, promise: EventLoopPromise<Void>?, tag: UInt64?)>] = [:]
    #endif
    /// A flush is scheduled for the next turn of the loop (`flushSoon`).
    #if DEBUG
    private var flushScheduled = false
    #else
    @exclusivity(unchecked) private var flushScheduled = false
    #endif
    /// `flush` is running its loop; a flush asked for meanwhile only sets `flushRequested`.
    #if DEBUG
    private var draining = false
    #else
    @exclusivity(unchecked) private var draining = false
    #endif
    /// Another round of `flush`'s loop is wanted.
    #if DEBUG
    private var flushRequested = false
    #else
    @exclusivity(unchecked) private var flushRequested = false
    #endif
    #if DEBUG
    private(set) var closed = false
    #else
    @exclusivity(unchecked) private(set) var closed = false
    #endif
    /// Bytes of delivered messages the sink has read during this round of `flush`, not yet
    /// given to the core (`consumedDuringDispatch`): one `consumed` call (one clock reading,
    /// one association look-up) per run of messages of one association instead of per message.
    #if DEBUG
    private var unconsumed: (id: AssociationID, bytes: Int)?
    #else
    @exclusivity(unchecked) private var unconsumed: (id: AssociationID, bytes: Int)?
    #endif
    /// Sockets using this endpoint (a listener and the sockets it accepted, a one-to-many
    /// socket and those peeled off it); the endpoint closes when the last one lets go.
    private var users = 0

    /// Whether the endpoint shares its port with other endpoints that set it too
    /// (`SCTP_REUSE_PORT`, fixed at bind).
    let reusesPort: Bool

    init(stack: SCTPStack, configuration: SCTPConfiguration, port: UInt16, addresses: [IPAddress], acceptsAssociations: Bool,
         reusesPort: Bool = false) {
        self.stack = stack
        self.reusesPort = reusesPort
        endpoint = SCTPEndpoint(configuration: configuration, localPort: port, localAddresses: addresses,
                                acceptsAssociations: acceptsAssociations, random: SystemRandomSource(), now: stack.now)
    }

    var localPort: UInt16 { endpoint.localPort }
    private var now: SCTPInstant { stack.now }

    // MARK: The endpoint's settings

    /// The local addresses (`bindx` adds and removes them; associations set up afterwards use them).
    var localAddresses: [IPAddress] {
        get { endpoint.localAddresses }
        set { endpoint.localAddresses = newValue }
    }

    /// Whether INITs are answered (a listening or one-to-many socket).
    var acceptsAssociations: Bool {
        get { endpoint.acceptsAssociations }
        set { endpoint.acceptsAssociations = newValue }
    }

    /// The most receive window new associations may offer (what the stack's sockets can buffer).
    var receiveWindowLimit: Int? {
        get { endpoint.receiveWindowLimit }
        set { endpoint.receiveWindowLimit = newValue }
    }

    /// The shard of a sharded endpoint this driver runs, and the directory the shards share
    /// (`SCTPEndpoint.tagShard`, `shardDirectory`; set before the first association).
    func makeShard(_ shard: TagShard, directory: any SCTPShardDirectory) {
        endpoint.tagShard = shard
        endpoint.shardDirectory = directory
    }

    /// The configuration new associations start from (a socket's options).
    var configuration: SCTPConfiguration {
        get { endpoint.configuration }
        set { endpoint.configuration = newValue }
    }

    /// `configuration` as new associations get it, with the receive window limit applied.
    var associationConfiguration: SCTPConfiguration { endpoint.associationConfiguration }

    // MARK: Endpoints sharing a port (SCTP_REUSE_PORT)

    /// Whether a live association has `tag` as its own verification tag and `peerPort` as its peer's port.
    func hasAssociation(localTag tag: UInt32, peerPort: UInt16) -> Bool {
        !closed && endpoint.hasAssociation(localTag: tag, peerPort: peerPort)
    }

    /// Whether a live association has the peer transport address `address`:`port`.
    func hasAssociation(peer address: IPAddress, port: UInt16) -> Bool {
        !closed && endpoint.hasAssociation(peer: address, port: port)
    }

    /// Whether `datagram` is a COOKIE ECHO with a cookie this endpoint made.
    func madeCookie(in datagram: ByteBuffer) -> Bool { !closed && endpoint.madeCookie(in: datagram) }

    // MARK: Sockets sharing the endpoint

    /// A socket starts using the endpoint (bind, accept, peeloff).
    func addUser() { users += 1 }

    /// A socket stops using the endpoint; the endpoint closes when the last one lets go.
    func removeUser() {
        users -= 1
        if users <= 0 { close() }
    }

    /// The events of association `id` go to `sink` (an accepted or peeled-off socket).
    func route(_ id: AssociationID, to sink: any EndpointEventSink) {
        sinks[id] = WeakSink(sink: sink)
    }

    /// `sink`'s socket is closing: the events of `id` no longer go to it (nor to the default
    /// sink, when that is the same socket).
    func stopRouting(_ id: AssociationID, to sink: any EndpointEventSink) {
        if sinks[id]?.sink === sink || defaultSink === sink { sinks[id] = nil }
    }

    /// `sink`'s socket is closing: it is no longer the default sink.
    func resignDefaultSink(_ sink: any EndpointEventSink) {
        if defaultSink === sink { defaultSink = nil }
    }

    // MARK: Input from the transport

    /// A packet arrived; `congestionExperienced` when its IP header carried the ECN CE mark.
    /// `forwarded`: handed over by another shard of a sharded endpoint (never handed on).
    func received(datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress, congestionExperienced: Bool = false,
                  forwarded: Bool = false) {
        guard !closed else { return }
        endpoint.handle(datagram: datagram, from: source, to: destination, now: now, congestionExperienced: congestionExperienced,
                        forwarded: forwarded)
    }

    /// Runs the core's output until there is none: sends every datagram the core produced,
    /// gives its events to their sinks (then completes the calls waiting for them), retries
    /// sends blocked on a full send buffer, and re-arms the timer.
    ///
    /// Not re-entrant. What a sink or a completed call does meanwhile (send, connect, abort,
    /// shut down: calls on the event loop run at once, and each asks for a flush) only sets
    /// `flushRequested`; the loop here runs another round for it before it returns, in the
    /// same turn of the event loop: an echo leaves with no task in between, and an ABORT and
    /// the next INIT share one system call. Every further round comes from such a reaction
    /// or from a blocked send that got room, so the loop ends when the core has no more.
    func flush() {
        flushRequested = true
        guard !draining, !closed else { return }
        draining = true
        while flushRequested && !closed {
            flushRequested = false
            sendTransmits()
            var version = sinkVersion
            var roundSink = defaultSink
            while let event = endpoint.pollEvent() {
                if version != sinkVersion {
                    version = sinkVersion
                    roundSink = defaultSink
                }
                dispatch(event, defaultSink: roundSink)
            }
            applyConsumed()
            retryBlockedSends()
        }
        draining = false
        rearmTimer()
    }

    /// Hands every datagram the core produced to the stack, and has them sent.
    private func sendTransmits() {
        var wrote = false
        while let transmit = endpoint.pollTransmit() {
            stack.send(transmit, from: endpoint.localAddresses, remoteUDPPort: remoteUDPPort)
            wrote = true
        }
        if wrote { stack.flushWrites() }
    }

    /// A flush on the next turn of the loop (after a batch of user calls); while `flush`
    /// runs, another round of it.
    func flushSoon() {
        if draining {
            flushRequested = true
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func rearmTimer() {
        let deadline = closed ? nil : endpoint.nextDeadline
        guard deadline != timerDeadline else { return }
        // A timer due no later than the new deadline stays: firing early costs one idle
        // turn (the core finds nothing due and the flush re-arms), while rescheduling costs
        // an allocation and a heap operation every time a deadline moves later, which
        // T3-rtx does with every SACK that acknowledges new data. So does a timer when the
        // core has no deadline left (its last association gone): a server whose associations
        // come and go would otherwise cancel and schedule one per association.
        if !closed, let scheduled = timerDeadline, timer != nil, deadline.map({ scheduled < $0 }) ?? true { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline else {
            timer = nil
            return
        }
        timer = eventLoop.scheduleTask(deadline: stack.deadline(of: deadline)) { [self] in
            timerDeadline = nil
            guard !closed else { return }
            endpoint.handleTimeout(now: now)
            flush()
        }
    }

    /// Gives an event to its sink first, then completes the calls waiting for it, so that a
    /// caller woken by its future sees the socket already updated.
    /// `defaultSink` is the caller's reading of `self.defaultSink`.
    private func dispatch(_ event: SCTPEvent, defaultSink: (any EndpointEventSink)?) {
        // Endpoints driven by one sink (UDPEncapsulationEndpoint) have no per-association sinks.
        if sinks.isEmpty {
            defaultSink?.endpointDriver(self, deliver: event)
        } else {
            let sink = event.associationID.flatMap { sinks[$0]?.sink } ?? defaultSink
            sink?.endpointDriver(self, deliver: event)
        }
        switch event {
        case .cannotStart(let id, _), .shutdownComplete(let id), .communicationLost(let id, _):
            // The core still has the association while its last event is dispatched.
            stack.metricsReporter?.associationEnded(id, of: self)
        default:
            break
        }
        switch event {
        case .communicationUp(let id, _, _):
            connectPromises.removeValue(forKey: id)?.succeed(id)
        case .cannotStart(let id, let failure):
            let error = Self.error(for: failure)
            connectPromises.removeValue(forKey: id)?.fail(error)
            failBlockedSends(of: id, error)
            sinks[id] = nil
        case .shutdownComplete(let id):
            shutdownPromises.removeValue(forKey: id)?.succeed(())
            failBlockedSends(of: id, SCTPError(.brokenPipe, "the association was shut down"))
            sinks[id] = nil
        case .communicationLost(let id, let reason):
            sinks[id] = nil
            let connect = connectPromises.removeValue(forKey: id), shutdown = shutdownPromises.removeValue(forKey: id)
            let blocked = blockedSends.removeValue(forKey: id) ?? []
            // The text costs a reflection of the reason: only made when someone gets it.
            guard connect != nil || shutdown != nil || !blocked.isEmpty else { break }
            let error = SCTPError(.connectionReset, "association lost: \(reason)")
            connect?.fail(error)
            shutdown?.fail(error)
            for entry in blocked { entry.promise?.fail(error) }
        default:
            break
        }
    }

    // MARK: User calls (on the event loop)

    /// Starts an association to `peers` (all on `port`); the future completes when it is up or failed.
    func connect(to peers: [IPAddress], port: UInt16) throws(SCTPError) -> (AssociationID, EventLoopFuture<AssociationID>) {
        guard !closed else { throw SCTPError(.badFileDescriptor, "the socket is closed") }
        let id: AssociationID
        do {
            id = try endpoint.connect(to: peers, port: port, now: now)
        } catch {
            throw Self.map(error)
        }
        let promise = eventLoop.makePromise(of: AssociationID.self)
        connectPromises[id] = promise
        flush()
        return (id, promise.futureResult)
    }

    /// Queues a message at once, or fails with EWOULDBLOCK when the send buffer is full.
    func trySend(_ message: OutgoingMessage, on id: AssociationID) throws(SCTPError) {
        guard blockedSends.isEmpty || blockedSends[id]?.isEmpty ?? true else { throw SCTPError(.wouldBlock, "the send buffer is full") }
        do {
            try endpoint.send(message, on: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Queues a message; when the send buffer is full the future waits until there is room.
    /// `tag`, when given, lets the caller take a waiting send back (`cancelBlockedSend`).
    func send(_ message: OutgoingMessage, on id: AssociationID, tag: UInt64? = nil) -> EventLoopFuture<Void> {
        do {
            try trySend(message, on: id)
            return eventLoop.makeSucceededVoidFuture()
        } catch where error.errno == .wouldBlock {
            let promise = eventLoop.makePromise(of: Void.self)
            blockedSends[id, default: []].append((message, promise, tag))
            return promise.futureResult
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// Queues messages in order, reading the clock once; those that find no room wait, in
    /// order, as `send` does. The future completes when the last is queued, or fails with the
    /// first error (messages after it are not queued). One future for the batch: a message
    /// queued at once costs no future of its own.
    func send(_ messages: [OutgoingMessage], on id: AssociationID) -> EventLoopFuture<Void> {
        guard !messages.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        var index = 0
        if blockedSends.isEmpty || blockedSends[id]?.isEmpty ?? true {
            let instant = now
            defer { if index > 0 { flushSoon() } }
            while index < messages.count {
                do {
                    try endpoint.send(messages[index], on: id, now: instant)
                } catch CoreError.sendBufferFull {
                    break
                } catch {
                    return eventLoop.makeFailedFuture(Self.map(error))
                }
                index += 1
            }
            if index == messages.count { return eventLoop.makeSucceededVoidFuture() }
        }
        // The rest waits for room; only the last one's completion is the batch's.
        let promise = eventLoop.makePromise(of: Void.self)
        var waiting = blockedSends.removeValue(forKey: id) ?? []
        for position in index..<messages.count {
            waiting.append((messages[position], position == messages.count - 1 ? promise : nil, nil))
        }
        blockedSends[id] = waiting
        return promise.futureResult
    }

    /// Takes the sends waiting for room under `tag` out of the queue, failing them with `error`.
    func cancelBlockedSends(tag: UInt64, error: SCTPError) {
        var cancelled: [EventLoopPromise<Void>] = []
        for id in Array(blockedSends.keys) {
            blockedSends[id]?.removeAll { entry in
                guard entry.tag == tag else { return false }
                if let promise = entry.promise { cancelled.append(promise) }
                return true
            }
        }
        // Completed once the queue is consistent: a callback may send again.
        for promise in cancelled { promise.fail(error) }
    }

    private func retryBlockedSends() {
        guard !blockedSends.isEmpty else { return }
        let instant = now
        for id in Array(blockedSends.keys) {
            // The association's waiting sends are taken out of the table while those without
            // a promise (a batch's messages before its last) are queued: no look-up per
            // message. They go back before a promise completes, since its callback may send
            // again, and such a send must queue behind them.
            guard var waiting = blockedSends.removeValue(forKey: id) else { continue }
            var queued = false
            while let first = waiting.first {
                var failure: SCTPError?
                do {
                    try endpoint.send(first.message, on: id, now: instant)
                    queued = true
                } catch CoreError.sendBufferFull {
                    break
                } catch {
                    failure = Self.map(error)
                }
                waiting.removeFirst()
                var promise = first.promise
                if failure != nil && promise == nil {
                    // A batch's message failed: the batch's later messages are not queued,
                    // and its future (its last message's) fails with this error.
                    while let next = waiting.first {
                        waiting.removeFirst()
                        if let last = next.promise { promise = last; break }
                    }
                }
                guard let promise else { continue }
                if !waiting.isEmpty { blockedSends[id] = waiting }
                waiting = []
                if let failure { promise.fail(failure) } else { promise.succeed(()) }
                waiting = blockedSends.removeValue(forKey: id) ?? []
            }
            if !waiting.isEmpty { blockedSends[id] = waiting }
            // What was queued goes out with the next flush.
            if queued { flushSoon() }
        }
    }

    private func failBlockedSends(of id: AssociationID, _ error: SCTPError) {
        guard let entries = blockedSends.removeValue(forKey: id) else { return }
        for entry in entries { entry.promise?.fail(error) }
    }

    /// Whether sends on an association are waiting for room in the send buffer.
    func hasBlockedSends(on id: AssociationID) -> Bool { !(blockedSends[id]?.isEmpty ?? true) }

    /// Graceful shutdown; the future completes when SHUTDOWN COMPLETE is exchanged.
    func shutdown(_ id: AssociationID) -> EventLoopFuture<Void> {
        if let pending = shutdownPromises[id] { return pending.futureResult }
        do {
            try endpoint.shutdown(id, now: now)
        } catch {
            return eventLoop.makeFailedFuture(Self.map(error))
        }
        let promise = eventLoop.makePromise(of: Void.self)
        shutdownPromises[id] = promise
        flush()
        return promise.futureResult
    }

    /// Aborts an association, with `reason` as the User-Initiated Abort cause's data.
    func abort(_ id: AssociationID, reason: ByteBuffer? = nil) throws(SCTPError) {
        do {
            try endpoint.abort(id, reason: reason, now: now)
        } catch {
            throw Self.map(error)
        }
        flush()
    }

    /// The application has read `bytes` of an association's data: its receive window reopens.
    func consumed(bytes: Int, on id: AssociationID) {
        endpoint.consumed(bytes: bytes, on: id, now: now)
        flushSoon()
    }

    /// `consumed`, for a sink reading a message while it is dispatched: the bytes of a run of
    /// messages of one association are added up and given to the core once, when the round
    /// of `flush` has dispatched its events (and before what that makes the core send, such
    /// as a window update, is polled in the next round).
    func consumedDuringDispatch(bytes: Int, on id: AssociationID) {
        guard draining else {
            consumed(bytes: bytes, on: id)
            return
        }
        if let pending = unconsumed {
            if pending.id == id {
                unconsumed = (id, pending.bytes + bytes)
                return
            }
            applyConsumed()
        }
        unconsumed = (id, bytes)
    }

    /// Gives the core the bytes `consumedDuringDispatch` added up.
    private func applyConsumed() {
        guard let pending = unconsumed else { return }
        unconsumed = nil
        endpoint.consumed(bytes: pending.bytes, on: pending.id, now: now)
        flushRequested = true
    }

    // MARK: Associations (on the event loop)

    /// An association's state, `nil` once it is gone.
    func state(of id: AssociationID) -> AssociationState? { endpoint.state(of: id) }

    /// The peer's SCTP port of an association.
    func peerPort(of id: AssociationID) -> UInt16? { endpoint.peerPort(of: id) }

    /// The peer's addresses of an association, with their states.
    func peerAddresses(of id: AssociationID) -> [(address: IPAddress, state: PathState)] { endpoint.peerAddresses(of: id) }

    /// The peer address new data goes to.
    func primaryAddress(of id: AssociationID) -> IPAddress? { endpoint.primaryAddress(of: id) }

    /// Makes `address` the peer address new data goes to (`SCTP_PRIMARY_ADDR`).
    func setPrimaryAddress(_ address: IPAddress, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setPrimaryAddress(address, of: id)
        } catch {
            throw Self.map(error)
        }
    }

    /// State, windows, streams, primary address and paths (`SCTP_STATUS`).
    func status(of id: AssociationID) -> AssociationStatus? { endpoint.status(of: id) }

    /// The associations the endpoint has, in id order.
    var associationIDs: [AssociationID] { endpoint.associationIDs }

    /// The protocol parameters an association runs with.
    func parameters(of id: AssociationID) -> AssociationParameters? { endpoint.parameters(of: id) }

    /// Changes a live association's RTO.Initial, RTO.Min and RTO.Max (`SCTP_RTOINFO`).
    func setRTOParameters(initial: Duration, minimum: Duration, maximum: Duration, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setRTOParameters(initial: initial, minimum: minimum, maximum: maximum, of: id)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Changes a live association's heartbeat interval, Path.Max.Retrans and path MTU
    /// (`SCTP_PEER_ADDR_PARAMS`).
    func setPathParameters(heartbeatInterval: Duration?, pathMaxRetransmits: Int, mtu: Int?, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setPathParameters(heartbeatInterval: heartbeatInterval, pathMaxRetransmits: pathMaxRetransmits, mtu: mtu,
                                           of: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Switches path MTU discovery (RFC 8899) on or off for a live association's paths
    /// (SPP_PMTUD_ENABLE / SPP_PMTUD_DISABLE); off, with `mtu` as the fixed MTU when given.
    func setPathMTUDiscovery(_ enabled: Bool, mtu: Int?, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setPathMTUDiscovery(enabled, mtu: mtu, of: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// The local kernel refused a datagram to `peer` larger than `mtu` (an SCTP packet size).
    func handleLocalPacketTooBig(peer: IPAddress, mtu: Int) {
        if endpoint.handleLocalPacketTooBig(peer: peer, mtu: mtu, now: now) { flushSoon() }
    }

    /// An ICMP / ICMPv6 Packet Too Big about a packet to `peer` (RFC 8899 §4.6), `quotedPacket`
    /// from the SCTP common header on and `mtu` as an SCTP packet size; the core validates it.
    func handlePacketTooBig(quotedPacket: ByteBuffer, peer: IPAddress, mtu: Int) {
        if endpoint.handlePacketTooBig(quotedPacket: quotedPacket, peer: peer, mtu: mtu, now: now) { flushSoon() }
    }


    /// `SCTP_RESET_STREAMS` on a live association.
    func resetStreams(_ streams: [UInt16], direction: StreamResetDirection, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.resetStreams(streams, direction: direction, on: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// `SCTP_RESET_ASSOC` on a live association.
    func resetAssociation(_ id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.resetAssociation(id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// `SCTP_ADD_STREAMS` on a live association.
    func addStreams(outgoing: UInt16, incoming: UInt16, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.addStreams(outgoing: outgoing, incoming: incoming, on: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// `SCTP_ENABLE_STREAM_RESET` on a live association.
    func setStreamResetPermissions(_ permissions: StreamResetPermissions, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setStreamResetPermissions(permissions, on: id)
        } catch {
            throw Self.map(error)
        }
    }

    /// Runs an AUTH option (RFC 4895) on the endpoint, its errors mapped to errnos.
    func authentication<Result>(_ body: (SCTPEndpoint) throws(CoreError) -> Result) throws(SCTPError) -> Result {
        do {
            let result = try body(endpoint)
            flushSoon()
            return result
        } catch {
            throw Self.map(error)
        }
    }

    /// Whether a live association uses stream reconfiguration (`SCTP_RECONFIG_SUPPORTED`).
    func isReconfigurationSupported(of id: AssociationID) -> Bool? { endpoint.isReconfigurationSupported(on: id) }

    /// Changes a live association's Association.Max.Retrans (`SCTP_ASSOCINFO`).
    func setAssociationMaxRetransmits(_ count: Int, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setAssociationMaxRetransmits(count, of: id)
        } catch {
            throw Self.map(error)
        }
    }

    /// Whether an association uses I-DATA (RFC 8260), `nil` once it is gone.
    func usesInterleaving(_ id: AssociationID) -> Bool? { endpoint.usesInterleaving(id) }

    /// An association's stream scheduler (`SCTP_STREAM_SCHEDULER`), `nil` once it is gone.
    func streamScheduler(of id: AssociationID) -> StreamSchedulerKind? { endpoint.streamScheduler(of: id) }

    /// Switches a live association's stream scheduler (`SCTP_STREAM_SCHEDULER`).
    func setStreamScheduler(_ kind: StreamSchedulerKind, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setStreamScheduler(kind, of: id)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// The scheduler value of an outbound stream (`SCTP_STREAM_SCHEDULER_VALUE`).
    func streamSchedulerValue(stream: UInt16, of id: AssociationID) throws(SCTPError) -> UInt16 {
        do {
            return try endpoint.streamSchedulerValue(stream: stream, of: id)
        } catch {
            throw Self.map(error)
        }
    }

    /// Sets the scheduler value of an outbound stream (`SCTP_STREAM_SCHEDULER_VALUE`).
    func setStreamSchedulerValue(_ value: UInt16, stream: UInt16, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setStreamSchedulerValue(value, stream: stream, of: id)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// The negotiated stream counts of an association.
    func streams(of id: AssociationID) -> (outbound: UInt16, inbound: UInt16)? { endpoint.streams(of: id) }

    /// The data transfer counters of an association, `nil` once it is gone.
    func statistics(of id: AssociationID) -> AssociationStatistics? { endpoint.statistics(of: id) }

    /// The messages PR-SCTP gave up on an association (RFC 7496), `nil` once it is gone.
    func abandonedMessages(of id: AssociationID) -> AbandonedMessageStatistics? { endpoint.abandonedMessages(of: id) }

    /// Whether an association uses PR-SCTP (`SCTP_PR_SUPPORTED`), `nil` once it is gone.
    func partialReliabilitySupported(of id: AssociationID) -> Bool? { endpoint.partialReliabilitySupported(on: id) }

    /// The largest message an association sends unfragmented, `nil` once it is gone.
    func fragmentationPoint(of id: AssociationID) -> Int? { endpoint.fragmentationPoint(of: id) }

    /// Changes a live association's Max.Burst (`SCTP_MAX_BURST`).
    func setMaxBurst(_ burst: Int, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setMaxBurst(burst, of: id)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Changes a live association's delayed-SACK timing (`SCTP_DELAYED_SACK`).
    func setDelayedSack(timeout: Duration, frequency: Int, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setDelayedSack(timeout: timeout, frequency: frequency, of: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Changes a live association's path thresholds (`SCTP_PEER_ADDR_THLDS`, RFC 7829).
    func setPathThresholds(pathMaxRetransmits: Int, potentiallyFailedThreshold: Int, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.setPathThresholds(pathMaxRetransmits: pathMaxRetransmits,
                                           potentiallyFailedThreshold: potentiallyFailedThreshold, of: id)
        } catch {
            throw Self.map(error)
        }
    }

    /// Aborts what is alive, stops the timer and leaves the stack.
    func close() {
        guard !closed else { return }
        for id in endpoint.associationIDs where endpoint.state(of: id) != .closed {
            try? endpoint.abort(id, now: now)
        }
        flush()
        // Closed from a sink while `flush` runs, the flush above only asked for a round that
        // will not come: the ABORTs leave now.
        sendTransmits()
        closed = true
        timer?.cancel()
        timer = nil
        let error = SCTPError(.badFileDescriptor, "the socket was closed")
        for promise in connectPromises.values { promise.fail(error) }
        for promise in shutdownPromises.values { promise.fail(error) }
        for id in Array(blockedSends.keys) { failBlockedSends(of: id, error) }
        connectPromises.removeAll()
        shutdownPromises.removeAll()
        sinks.removeAll()
        defaultSink = nil
        stack.unregister(self)
    }

    /// The errno a blocking connect reports for a failed association setup.
    static func error(for failure: ConnectFailure) -> SCTPError {
        switch failure {
        case .refused: SCTPError(.connectionRefused, "the peer refused the association")
        case .timedOut: SCTPError(.timedOut, "no answer to INIT or COOKIE ECHO from any address")
        case .cancelled: SCTPError(.interrupted, "the association attempt was aborted")
        }
    }

    static func map(_ error: any Error) -> SCTPError {
        if let error = error as? SCTPError { return error }
        guard let error = error as? CoreError else { return SCTPError(.ioError, "\(error)") }
        return switch error {
        case .unknownAssociation: SCTPError(.invalidArgument, "no such association")
        case .associationClosing: SCTPError(.brokenPipe, "the association is shutting down")
        case .invalidStream(let s): SCTPError(.invalidArgument, "stream \(s) does not exist")
        case .sendBufferFull: SCTPError(.wouldBlock, "the send buffer is full")
        case .messageTooLarge: SCTPError(.messageTooLong, "the message is larger than allowed")
        case .emptyMessage: SCTPError(.invalidArgument, "empty message")
        case .tooManyAssociations: SCTPError(.noBufferSpace, "the endpoint holds its maximum number of associations")
        case .alreadyConnected: SCTPError(.alreadyInProcess, "an association to this peer exists or is being set up")
        case .invalidAddresses(let why): SCTPError(.invalidArgument, why)
        case .reconfigurationNotSupported:
            SCTPError(.notSupported, "stream reconfiguration (RE-CONFIG) is off here or the peer does not support it")
        case .invalidReconfiguration(let why): SCTPError(.invalidArgument, why)
        case .reconfigurationBusy: SCTPError(.alreadyInProcess, "too many stream reconfiguration requests wait already")
        case .addressReconfigurationNotSupported:
            SCTPError(.notSupported, "address reconfiguration (ASCONF) is off here or the peer does not support it")
        case .invalidAddressChange(let why): SCTPError(.invalidArgument, why)
        case .addressNotAvailable(let address): SCTPError(.addressNotAvailable, "\(address) is not an address of this association")
        case .addressReconfigurationBusy: SCTPError(.wouldBlock, "too many address changes wait already")
        case .invalidAuthentication(let why): SCTPError(.invalidArgument, why)
        }
    }
}

extension EndpointDriver {
    // MARK: Dynamic address reconfiguration (RFC 5061)

    /// `sctp_bindx(SCTP_BINDX_ADD_ADDR)` on a bound socket: the endpoint gains the addresses
    /// (already open on the transport); associations that negotiated ASCONF announce them
    /// when `SCTP_AUTO_ASCONF` is on.
    func addLocalAddresses(_ addresses: [IPAddress]) throws(SCTPError) {
        do {
            try endpoint.addLocalAddresses(addresses, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// `sctp_bindx(SCTP_BINDX_REM_ADDR)` on a bound socket: no packet leaves from the
    /// addresses any more; associations that negotiated ASCONF ask their peer to delete them.
    func removeLocalAddresses(_ addresses: [IPAddress]) throws(SCTPError) {
        do {
            try endpoint.removeLocalAddresses(addresses, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// `SCTP_SET_PEER_PRIMARY_ADDR`: asks the peer to send to our `address`.
    func requestPeerPrimaryAddress(_ address: IPAddress, of id: AssociationID) throws(SCTPError) {
        do {
            try endpoint.requestPeerPrimaryAddress(address, on: id, now: now)
        } catch {
            throw Self.map(error)
        }
        flushSoon()
    }

    /// Whether both sides announced ASCONF; `nil` for an unknown association.
    func isAddressReconfigurationSupported(of id: AssociationID) -> Bool? {
        guard endpoint.state(of: id) != nil else { return nil }
        return endpoint.supportsAddressReconfiguration(id)
    }

    /// Our addresses as the association's peer knows them (`sctp_getladdrs` with an id).
    func localAddresses(of id: AssociationID) -> [IPAddress] { endpoint.localAddresses(of: id) }
}
