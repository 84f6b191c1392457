import NIOConcurrencyHelpers
import NIOCore
import SCTPCore
import SCTPWire

/// An SCTP association for Swift concurrency: connect to a peer's addresses, iterate over the
/// messages that arrive, send with backpressure (a send suspends while the send buffer is
/// full instead of buffering without bound).
///
/// ```swift
/// let association = try await SCTPAssociation.connect(
///     to: [try SocketAddress(ipAddress: "127.0.0.1", port: 5001),
///          try SocketAddress(ipAddress: "127.0.0.2", port: 5001)])
/// try await association.send(ByteBuffer(string: "hello"), stream: 1, payloadProtocolIdentifier: 51)
/// for try await message in association.messages {
///     print(message.info.stream, String(buffer: message.data))
/// }
/// try await association.shutdown()
/// ```
///
/// It is a one-to-one `SCTPSocket` underneath (`socket`, for options and the calls not
/// mirrored here). Cancelling a task that waits in `connect` aborts the attempt, so nothing
/// is left behind; cancelling one waiting in `send` or in the message sequence throws EINTR
/// and loses nothing.
public final class SCTPAssociation: Sendable {
    /// The socket the association lives on.
    public let socket: SCTPSocket
    /// The association's id.
    public let id: AssociationID

    init(socket: SCTPSocket, id: AssociationID) {
        self.socket = socket
        self.id = id
    }

    /// Sets up an association with the seed's `connectx` semantics: INIT to the first
    /// address, then round robin over them on each retransmission. `local` binds explicit
    /// local addresses (default: loopback for loopback peers). `initProfile` chooses what the
    /// INIT announces (`nil`: the stack's default, `.webRTC` on carrier stacks, else `.full`);
    /// `acceptZeroChecksum` is `SCTPSocketOption.acceptZeroChecksum` (an error detection
    /// method, e.g. `ZeroChecksumAcceptableParameter.dtls` when the carrier stack's packets
    /// travel in DTLS; EINVAL on UDP and raw IP stacks). `configure` runs on the socket
    /// before it connects (options such as `.initMessage` or `.rtoInfo`). `interleaving`:
    /// offer user message interleaving (I-DATA, RFC 8260; `SCTP_FRAGMENT_INTERLEAVE` 2 and
    /// `SCTP_INTERLEAVING_SUPPORTED`), used when the peer offers it too.
    public static func connect(to peers: [SocketAddress], from local: [SocketAddress]? = nil, stack: SCTPStack = .shared,
                               initProfile: SCTPInitProfile? = nil, acceptZeroChecksum: UInt32 = 0,
                               interleaving: Bool = false,
                               configure: @Sendable (SCTPSocket) throws -> Void = { _ in }) async throws(SCTPError) -> SCTPAssociation {
        let socket = SCTPSocket(family: peers.contains { if case .v6 = $0 { true } else { false } } ? .ipv6 : .ipv4,
                                style: .oneToOne, stack: stack)
        do {
            try socket.applyHandshakeOptions(initProfile: initProfile, acceptZeroChecksum: acceptZeroChecksum)
            if interleaving { try socket.offerInterleaving() }
            try configure(socket)
            if let local { try socket.bind(local) }
            let id = try await socket.connectx(peers)
            guard !Task.isCancelled else { throw SCTPError(.interrupted, "the task was cancelled") }
            return SCTPAssociation(socket: socket, id: id)
        } catch {
            // Cancelled or failed: nothing may outlive the call.
            try? socket.setOption(.linger, .zero)
            try? socket.close()
            throw EndpointDriver.map(error)
        }
    }

    /// Sends a message; suspends while the send buffer is full.
    public func send(_ data: ByteBuffer, stream: UInt16 = 0, payloadProtocolIdentifier: UInt32 = 0,
                     unordered: Bool = false) async throws(SCTPError) {
        try await socket.sendmsg(data, info: SCTPSendInfo(stream: stream, payloadProtocolIdentifier: payloadProtocolIdentifier,
                                                           flags: unordered ? .unordered : []))
    }

    /// The messages that arrive, whole, until the association ends.
    public var messages: Messages { Messages(socket: socket, notifications: false) }

    /// Messages and the notifications subscribed with the `.events` option, in arrival order.
    public var inbound: Messages { Messages(socket: socket, notifications: true) }

    /// The peer's addresses (`sctp_getpaddrs`).
    public func peerAddresses() throws(SCTPError) -> [SocketAddress] { try socket.getpaddrs(id) }

    /// Whether the association sends zero checksums (RFC 9653): both sides announced Zero
    /// Checksum Acceptable with the same error detection method (`acceptZeroChecksum`).
    public var usesZeroChecksum: Bool {
        get throws(SCTPError) { try socket.getOption(.status, association: id).zeroChecksum }
    }

    /// Shuts the association down gracefully and waits until the peer has acknowledged
    /// everything (SHUTDOWN COMPLETE), reading and dropping what still arrives.
    public func shutdown() async throws(SCTPError) {
        try socket.shutdown()
        while try await socket.recvmsg() != nil {}
        try socket.close()
    }

    /// Resets streams (RFC 6525, `SCTP_RESET_STREAMS`): `.outgoing` ours (what is queued on
    /// them goes first; later messages start at SSN 0 once the peer agrees), `.incoming`
    /// asks the peer to reset its own. Empty `streams`: all. The outcome arrives in
    /// `inbound` as `.streamReset` when subscribed to with the `.events` option.
    public func resetStreams(_ streams: [UInt16] = [], direction: StreamResetDirection = .outgoing) throws(SCTPError) {
        try socket.resetStreams(streams, direction: direction, association: id)
    }

    /// Asks the peer to send to our address `address` (RFC 5061 Set Primary Address,
    /// `SCTP_SET_PEER_PRIMARY_ADDR`); the association must have negotiated ASCONF.
    public func setPeerPrimaryAddress(_ address: SocketAddress) throws(SCTPError) {
        try socket.setPeerPrimaryAddress(address, association: id)
    }

    /// Adds local addresses to the association's socket and asks the peer to use them too
    /// (`sctp_bindx` add, RFC 5061 Add IP Address when ASCONF was negotiated).
    public func addLocalAddresses(_ addresses: [SocketAddress]) throws(SCTPError) {
        try socket.bindx(addresses, .add)
    }

    /// Removes local addresses from the association's socket (`sctp_bindx` remove): no
    /// packet leaves from them any more, and the peer is asked to delete them.
    public func removeLocalAddresses(_ addresses: [SocketAddress]) throws(SCTPError) {
        try socket.bindx(addresses, .remove)
    }

    /// Adds streams (RFC 6525, `SCTP_ADD_STREAMS`); the outcome arrives as `.streamChange`.
    public func addStreams(outbound: UInt16 = 0, inbound: UInt16 = 0) throws(SCTPError) {
        try socket.addStreams(outbound: outbound, inbound: inbound, association: id)
    }

    /// Resets the association's TSNs and SSNs (RFC 6525, `SCTP_RESET_ASSOC`); the outcome
    /// arrives as `.associationReset`.
    public func resetAssociation() throws(SCTPError) {
        try socket.resetAssociation(association: id)
    }

    /// Aborts the association (ABORT to the peer) and closes the socket.
    public func abort() {
        try? socket.setOption(.linger, .zero)
        try? socket.close()
    }

    /// Whole messages (and, for `inbound`, notifications) read from a socket.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = SCTPReceived
        let socket: SCTPSocket
        let notifications: Bool

        public func makeAsyncIterator() -> Iterator { Iterator(socket: socket, notifications: notifications) }

        public struct Iterator: AsyncIteratorProtocol {
            let socket: SCTPSocket
            let notifications: Bool

            /// The next whole message (pieces of a partially delivered one are joined), or
            /// `nil` once the association has ended.
            public mutating func next() async throws(SCTPError) -> SCTPReceived? {
                var pending: SCTPMessage?
                while true {
                    guard let item = try await socket.recvmsg(maxLength: Int(Int32.max)) else {
                        return pending.map { .message($0) }
                    }
                    switch item {
                    case .notification:
                        if notifications && pending == nil { return item }
                    case .message(var piece):
                        if var joined = pending {
                            joined.data.writeBuffer(&piece.data)
                            joined.isEndOfRecord = piece.isEndOfRecord
                            piece = joined
                        }
                        if piece.isEndOfRecord { return .message(piece) }
                        pending = piece
                    }
                }
            }
        }
    }
}

/// Accepts associations for Swift concurrency.
///
/// ```swift
/// let listener = try SCTPListener.bind([try SocketAddress(ipAddress: "127.0.0.1", port: 5001)])
/// for try await association in listener.associations {
///     Task { for try await message in association.messages { ... } }
/// }
/// ```
public final class SCTPListener: Sendable {
    /// The listening one-to-one socket.
    public let socket: SCTPSocket

    init(socket: SCTPSocket) { self.socket = socket }

    /// Binds explicit local addresses (sharing one port; 0 picks one) and listens.
    /// `initProfile` and `acceptZeroChecksum` are as for `SCTPAssociation.connect`, for the
    /// INIT ACKs the listener sends; `configure` runs on the socket before it binds.
    /// `interleaving`: accepted associations use I-DATA (RFC 8260) with peers that offer it.
    public static func bind(_ addresses: [SocketAddress], stack: SCTPStack = .shared, backlog: Int = 128,
                            initProfile: SCTPInitProfile? = nil, acceptZeroChecksum: UInt32 = 0,
                            interleaving: Bool = false,
                            configure: @Sendable (SCTPSocket) throws -> Void = { _ in }) throws(SCTPError) -> SCTPListener {
        let socket = SCTPSocket(family: addresses.contains { if case .v6 = $0 { true } else { false } } ? .ipv6 : .ipv4,
                                style: .oneToOne, stack: stack)
        do {
            try socket.applyHandshakeOptions(initProfile: initProfile, acceptZeroChecksum: acceptZeroChecksum)
            if interleaving { try socket.offerInterleaving() }
            try configure(socket)
            try socket.bind(addresses)
            try socket.listen(backlog: backlog)
        } catch {
            try? socket.close()
            throw EndpointDriver.map(error)
        }
        return SCTPListener(socket: socket)
    }

    /// The SCTP port listened on.
    public var port: UInt16? { socket.localPort }

    /// The next association; suspends until one is set up. Cancelling throws EINTR.
    public func accept() async throws(SCTPError) -> SCTPAssociation {
        let accepted = try await socket.acceptAsync()
        guard let id = accepted.associationIDs.first else {
            throw SCTPError(.connectionAbort, "the association ended before it was accepted")
        }
        return SCTPAssociation(socket: accepted, id: id)
    }

    /// The associations as they are set up, until the listener is closed.
    public var associations: Associations { Associations(listener: self) }

    /// Stops listening; associations already accepted go on.
    public func close() { try? socket.close() }

    public struct Associations: AsyncSequence, Sendable {
        public typealias Element = SCTPAssociation
        let listener: SCTPListener

        public func makeAsyncIterator() -> Iterator { Iterator(listener: listener) }

        public struct Iterator: AsyncIteratorProtocol {
            let listener: SCTPListener

            public mutating func next() async throws(SCTPError) -> SCTPAssociation? {
                do {
                    return try await listener.accept()
                } catch where error.errno == .badFileDescriptor {
                    return nil
                }
            }
        }
    }
}

extension SCTPSocket {
    /// The async API's handshake options: the INIT profile (`nil`: the stack's default) and
    /// the zero checksum method (0: none).
    func applyHandshakeOptions(initProfile: SCTPInitProfile?, acceptZeroChecksum: UInt32) throws(SCTPError) {
        if let initProfile { try setOption(.initProfile, initProfile) }
        if acceptZeroChecksum != 0 { try setOption(.acceptZeroChecksum, acceptZeroChecksum) }
    }

    /// `accept` for a task; cancelling the task makes it throw EINTR.
    func acceptAsync() async throws(SCTPError) -> SCTPSocket {
        let box = PromiseBox()
        let cancelled = NIOLockedValueBox(false)
        do {
            return try await withTaskCancellationHandler {
                try await eventLoop.flatSubmit { [self] () -> EventLoopFuture<SCTPSocket> in
                    if cancelled.withLockedValue({ $0 }) {
                        return eventLoop.makeFailedFuture(SCTPError(.interrupted, "accept was cancelled"))
                    }
                    let future = acceptOnLoop()
                    box.future = future
                    return future
                }.get()
            } onCancel: {
                cancelled.withLockedValue { $0 = true }
                eventLoop.execute { [self] in
                    acceptWaiters.removeAll { waiter in
                        guard waiter.futureResult === box.future else { return false }
                        waiter.fail(SCTPError(.interrupted, "accept was cancelled"))
                        return true
                    }
                }
            }
        } catch {
            throw EndpointDriver.map(error)
        }
    }
}

/// The future of a waiting accept, kept so a cancellation can find it (touched on the loop only).
private final class PromiseBox: @unchecked Sendable {
    var future: EventLoopFuture<SCTPSocket>?
}
