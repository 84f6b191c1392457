import Logging
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire
import SystemPackage

/// An SCTP endpoint running over UDP encapsulation (RFC 6951) on a SwiftNIO event loop.
///
/// The driver owns what the sans-IO core must not touch: one UDP socket per local address
/// (all bound to the same UDP port), the monotonic clock, one timer re-armed to the core's
/// next deadline, and the system's random source. Every call hops onto the event loop; the
/// core is only ever used there. The peer's UDP port is learned per address from what
/// arrives (RFC 6951 §5.4) and defaults to `Options.peerUDPPort`.
public final class UDPEncapsulationEndpoint: @unchecked Sendable {
    /// How to set the endpoint up.
    public struct Options: Sendable {
        /// The SCTP port (the common header's), shared by every association of the endpoint.
        public var sctpPort: UInt16
        /// Explicit local addresses (never the wildcard: INIT lists them to the peer).
        public var localAddresses: [String]
        /// The local UDP port; 0 picks a free one (the same for every local address).
        public var udpPort: Int = 9899
        /// The peer's UDP port until one is learned from a received packet.
        public var peerUDPPort: Int = 9899
        /// Answer INITs (a listening or one-to-many socket).
        public var acceptsAssociations = false
        /// Protocol parameters and limits.
        public var configuration = SCTPConfiguration()

        public init(sctpPort: UInt16, localAddresses: [String]) {
            self.sctpPort = sctpPort
            self.localAddresses = localAddresses
        }
    }

    public let eventLoop: any EventLoop
    public let options: Options
    /// The UDP port the sockets are bound to.
    public private(set) var localUDPPort = 0
    /// The local IP addresses, as the core knows them.
    public let localAddresses: [IPAddress]

    private let endpoint: SCTPEndpoint
    private var channels: [(address: IPAddress, channel: any Channel)] = []
    private var peerUDPPorts: [IPAddress: Int] = [:]
    private let origin = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerDeadline: SCTPInstant?
    private var eventHandler: ((SCTPEvent) -> Void)?
    private var connectPromises: [AssociationID: EventLoopPromise<AssociationID>] = [:]
    private var shutdownPromises: [AssociationID: EventLoopPromise<Void>] = [:]
    private var blockedSends: [(message: OutgoingMessage, id: AssociationID, promise: EventLoopPromise<Void>)] = []
    private var closed = false
    private let logger = Logger(label: "swift-sctp.udp")

    private init(eventLoop: any EventLoop, options: Options, localAddresses: [IPAddress]) {
        self.eventLoop = eventLoop
        self.options = options
        self.localAddresses = localAddresses
        endpoint = SCTPEndpoint(configuration: options.configuration, localPort: options.sctpPort,
                                localAddresses: localAddresses, acceptsAssociations: options.acceptsAssociations,
                                random: SystemRandomSource(), now: .zero)
    }

    /// Binds the UDP sockets and starts the endpoint. `onEvent` runs on the event loop for
    /// every event of the core; a delivered message counts as read when it returns.
    public static func start(options: Options, on eventLoop: any EventLoop,
                             onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<UDPEncapsulationEndpoint> {
        var addresses: [IPAddress] = []
        for text in options.localAddresses {
            guard let socketAddress = try? SocketAddress(ipAddress: text, port: 0), let address = IPAddress(socketAddress) else {
                return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "not an IP address: \(text)"))
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else {
            return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "no local address given"))
        }
        let driver = UDPEncapsulationEndpoint(eventLoop: eventLoop, options: options, localAddresses: addresses)
        driver.eventHandler = onEvent
        return driver.bindAll(port: options.udpPort, index: 0).map { driver }
    }

    private func bindAll(port: Int, index: Int) -> EventLoopFuture<Void> {
        guard index < localAddresses.count else {
            return eventLoop.makeSucceededVoidFuture()
        }
        let address = localAddresses[index]
        return DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: 4 << 20)
            // recvmmsg: up to 32 datagrams per read, each up to 9216 bytes (the buffer is split among them).
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: 32)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 9216))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundHandler(driver: self, localAddress: address))
                }
            }
            .bind(host: address.description, port: port)
            .flatMapErrorThrowing { error in
                throw SCTPError(.addressNotAvailable, "cannot bind UDP \(address):\(port): \(error)")
            }
            .flatMap { channel in
                self.channels.append((address, channel))
                let bound = channel.localAddress?.port ?? port
                if index == 0 { self.localUDPPort = bound }
                return self.bindAll(port: bound, index: index + 1)
            }
    }

    // MARK: Time

    private var now: SCTPInstant {
        SCTPInstant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds &- origin.uptimeNanoseconds))
    }

    private func rearmTimer() {
        let deadline = endpoint.nextDeadline
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        guard let deadline, !closed else {
            timer = nil
            return
        }
        let at = NIODeadline.uptimeNanoseconds(origin.uptimeNanoseconds &+ UInt64(max(deadline.nanoseconds, 0)))
        timer = eventLoop.scheduleTask(deadline: at) { [self] in
            timerDeadline = nil
            endpoint.handleTimeout(now: now)
            flush()
        }
    }

    // MARK: I/O

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>, at localAddress: IPAddress) {
        guard !closed, let source = IPAddress(envelope.remoteAddress), let port = envelope.remoteAddress.port else { return }
        peerUDPPorts[source] = port
        endpoint.handle(datagram: envelope.data, from: source, to: localAddress, now: now)
    }

    fileprivate func readComplete() { flush() }

    /// Sends every datagram the core produced, reports its events, retries blocked sends, re-arms the timer.
    private func flush() {
        var touched: [ObjectIdentifier: any Channel] = [:]
        while let transmit = endpoint.pollTransmit() {
            guard let channel = channel(for: transmit) else { continue }
            let port = peerUDPPorts[transmit.destination] ?? options.peerUDPPort
            guard let remote = try? transmit.destination.socketAddress(port: port) else { continue }
            channel.write(AddressedEnvelope(remoteAddress: remote, data: transmit.datagram), promise: nil)
            touched[ObjectIdentifier(channel)] = channel
        }
        for channel in touched.values { channel.flush() }
        while let event = endpoint.pollEvent() { dispatch(event) }
        retryBlockedSends()
        rearmTimer()
    }

    private func channel(for transmit: Transmit) -> (any Channel)? {
        if let source = transmit.source, let match = channels.first(where: { $0.address == source }) { return match.channel }
        return channels.first { $0.address.isIPv4 == transmit.destination.isIPv4 }?.channel
    }

    private func dispatch(_ event: SCTPEvent) {
        switch event {
        case .communicationUp(let id, _, _):
            connectPromises.removeValue(forKey: id)?.succeed(id)
        case .cannotStart(let id, let failure):
            let error: SCTPError = switch failure {
            case .refused: SCTPError(.connectionRefused, "the peer refused the association")
            case .timedOut: SCTPError(.timedOut, "no answer to INIT or COOKIE ECHO from any address")
            case .cancelled: SCTPError(.interrupted, "the association attempt was aborted")
            }
            connectPromises.removeValue(forKey: id)?.fail(error)
            failBlockedSends(of: id, error)
        case .shutdownComplete(let id):
            shutdownPromises.removeValue(forKey: id)?.succeed(())
        case .communicationLost(let id, let reason):
            let error = SCTPError(.connectionReset, "association lost: \(reason)")
            shutdownPromises.removeValue(forKey: id)?.fail(error)
            failBlockedSends(of: id, error)
        default:
            break
        }
        eventHandler?(event)
        if case .message(let id, let message) = event {
            endpoint.consumed(bytes: message.payload.readableBytes, on: id, now: now)
        }
    }

    // MARK: User calls (each hops onto the event loop)

    /// Sets up an association to a peer reachable at `addresses` (the seed's `sctp_connectx`),
    /// succeeding with its id once it is up; fails with ECONNREFUSED, ETIMEDOUT, EALREADY,
    /// EINVAL or ENOBUFS as `SCTPError`.
    public func connect(to addresses: [String], port: UInt16) -> EventLoopFuture<AssociationID> {
        eventLoop.flatSubmit { [self] in
            var peers: [IPAddress] = []
            for text in addresses {
                guard let socketAddress = try? SocketAddress(ipAddress: text, port: 0), let address = IPAddress(socketAddress) else {
                    return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "not an IP address: \(text)"))
                }
                peers.append(address)
            }
            do {
                let id = try endpoint.connect(to: peers, port: port, now: now)
                let promise = eventLoop.makePromise(of: AssociationID.self)
                connectPromises[id] = promise
                flush()
                return promise.futureResult
            } catch {
                return eventLoop.makeFailedFuture(Self.map(error))
            }
        }
    }

    /// Queues a message; when the send buffer is full the future waits until there is room.
    public func send(_ message: OutgoingMessage, on id: AssociationID) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            if blockedSends.isEmpty {
                do {
                    try endpoint.send(message, on: id, now: now)
                    flush()
                    return eventLoop.makeSucceededVoidFuture()
                } catch CoreError.sendBufferFull {
                } catch {
                    return eventLoop.makeFailedFuture(Self.map(error))
                }
            }
            let promise = eventLoop.makePromise(of: Void.self)
            blockedSends.append((message, id, promise))
            return promise.futureResult
        }
    }

    private func retryBlockedSends() {
        while let first = blockedSends.first {
            do {
                try endpoint.send(first.message, on: first.id, now: now)
            } catch CoreError.sendBufferFull {
                return
            } catch {
                blockedSends.removeFirst()
                first.promise.fail(Self.map(error))
                continue
            }
            blockedSends.removeFirst()
            first.promise.succeed(())
            // What was queued goes out with the next flush.
            eventLoop.execute { [self] in flushSoon() }
        }
    }

    private var flushScheduled = false
    private func flushSoon() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func failBlockedSends(of id: AssociationID, _ error: SCTPError) {
        blockedSends.removeAll { entry in
            guard entry.id == id else { return false }
            entry.promise.fail(error)
            return true
        }
    }

    /// Graceful shutdown; completes when SHUTDOWN COMPLETE is exchanged.
    public func shutdown(_ id: AssociationID) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            do {
                try endpoint.shutdown(id, now: now)
                let promise = eventLoop.makePromise(of: Void.self)
                shutdownPromises[id] = promise
                flush()
                return promise.futureResult
            } catch {
                return eventLoop.makeFailedFuture(Self.map(error))
            }
        }
    }

    /// The peer's addresses of an association (`sctp_getpaddrs`).
    public func peerAddresses(of id: AssociationID) -> EventLoopFuture<[IPAddress]> {
        eventLoop.submit { [self] in endpoint.peerAddresses(of: id).map(\.address) }
    }

    /// The negotiated stream counts of an association.
    public func streams(of id: AssociationID) -> EventLoopFuture<(outbound: UInt16, inbound: UInt16)?> {
        eventLoop.submit { [self] in endpoint.streams(of: id) }
    }

    /// Closes the sockets; associations still alive are aborted first.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            for id in endpoint.associationIDs { try? endpoint.abort(id, now: now) }
            flush()
            closed = true
            timer?.cancel()
            let futures = channels.map { $0.channel.close() }
            channels.removeAll()
            return EventLoopFuture.andAllComplete(futures, on: eventLoop)
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
        }
    }
}

/// Feeds datagrams from one UDP socket into the driver.
private final class InboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let driver: UDPEncapsulationEndpoint
    let localAddress: IPAddress

    init(driver: UDPEncapsulationEndpoint, localAddress: IPAddress) {
        self.driver = driver
        self.localAddress = localAddress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        driver.received(unwrapInboundIn(data), at: localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        driver.readComplete()
    }
}
