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

        /// Options for an endpoint on `sctpPort` at `localAddresses`, the rest at their defaults.
        public init(sctpPort: UInt16, localAddresses: [String]) {
            self.sctpPort = sctpPort
            self.localAddresses = localAddresses
        }
    }

    /// The loop every call and event of the endpoint runs on.
    public let eventLoop: any EventLoop
    /// How the endpoint was set up.
    public let options: Options
    /// The UDP port the sockets are bound to.
    public var localUDPPort: Int { stack.udpPort ?? options.udpPort }
    /// The local IP addresses, as the core knows them.
    public let localAddresses: [IPAddress]

    /// The configuration associations run with: `options.configuration` with the receive
    /// window lowered to what the UDP socket can buffer (`SCTPStack.receiveWindow(forSocketBuffer:)`).
    public private(set) var effectiveConfiguration: SCTPConfiguration

    private let stack: SCTPStack
    private let driver: EndpointDriver
    private let onEvent: @Sendable (SCTPEvent) -> Void
    /// Whether `close()` closes the stack too (it made the stack, not `start(options:on stack:)`).
    private var ownsStack = true

    private init(stack: SCTPStack, options: Options, localAddresses: [IPAddress], onEvent: @escaping @Sendable (SCTPEvent) -> Void) {
        self.stack = stack
        eventLoop = stack.eventLoop
        self.options = options
        self.localAddresses = localAddresses
        self.onEvent = onEvent
        effectiveConfiguration = options.configuration
        driver = EndpointDriver(stack: stack, configuration: options.configuration, port: options.sctpPort,
                                addresses: localAddresses, acceptsAssociations: options.acceptsAssociations)
    }

    /// Binds the UDP sockets and starts the endpoint. `onEvent` runs on the event loop for
    /// every event of the core; a delivered message counts as read when it returns (its bytes
    /// reopen the receive window once the events of that turn have been handed out). Fails
    /// with EINVAL for a configuration with `zeroChecksumMethod` (UDP detects no errors that
    /// CRC32c would not).
    public static func start(options: Options, on eventLoop: any EventLoop,
                             onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<UDPEncapsulationEndpoint> {
        start(options: options, on: eventLoop, shard: nil, onEvent: onEvent)
    }

    /// Starts an endpoint on a UDP stack that already exists: it shares the stack's loop, UDP
    /// port and sockets with the stack's other endpoints (each on its own SCTP port), so the
    /// packets of all of them are read and written in the same system calls (a client with
    /// many associations to one server, each needing its own SCTP port, batches its writes so).
    /// `options.udpPort` and `options.peerUDPPort` are the stack's, not the options'. `close()`
    /// leaves the stack open. Fails with EADDRINUSE for an SCTP port the stack already has,
    /// with EINVAL for a stack that is not over UDP or a configuration with `zeroChecksumMethod`.
    public static func start(options: Options, on stack: SCTPStack,
                             onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<UDPEncapsulationEndpoint> {
        guard stack.isUDP else {
            return stack.eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "the stack does not carry SCTP over UDP"))
        }
        return start(options: options, stack: stack, ownsStack: false, shard: nil, onEvent: onEvent)
    }

    /// `start`, as shard `shard.0` of a `ShardedUDPEndpoint` whose shards share `shard.1`.
    /// (`refusesSteering`: see `SCTPStack.Options.refusesSteering`.)
    static func start(options: Options, on eventLoop: any EventLoop, shard: (TagShard, any SCTPShardDirectory)?,
                      refusesSteering: Bool = false,
                      onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<UDPEncapsulationEndpoint> {
        var stackOptions = SCTPStack.Options(udpPort: options.udpPort, peerUDPPort: options.peerUDPPort)
        stackOptions.steering = shard?.0
        stackOptions.refusesSteering = refusesSteering
        return start(options: options, stack: SCTPStack(options: stackOptions, group: eventLoop), ownsStack: true, shard: shard,
                     onEvent: onEvent)
    }

    /// Checks the options, then opens the stack's sockets for the local addresses and registers
    /// the endpoint with it.
    private static func start(options: Options, stack: SCTPStack, ownsStack: Bool, shard: (TagShard, any SCTPShardDirectory)?,
                              onEvent: @escaping @Sendable (SCTPEvent) -> Void) -> EventLoopFuture<UDPEncapsulationEndpoint> {
        let eventLoop = stack.eventLoop
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
        // Zero checksum (RFC 9653) needs a lower layer that detects errors; UDP does not.
        guard options.configuration.zeroChecksumMethod == nil else {
            return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "zero checksum needs a carrier that detects errors; UDP does not"))
        }
        let endpoint = UDPEncapsulationEndpoint(stack: stack, options: options, localAddresses: addresses, onEvent: onEvent)
        endpoint.ownsStack = ownsStack
        if let (tagShard, directory) = shard { endpoint.driver.makeShard(tagShard, directory: directory) }
        return eventLoop.flatSubmit {
            stack.open(endpoint.localAddresses).flatMapThrowing {
                endpoint.driver.defaultSink = endpoint
                try stack.register(endpoint.driver)
                endpoint.effectiveConfiguration = endpoint.driver.associationConfiguration
                return endpoint
            }.flatMapError { error in
                // A stack of its own closes with it: the sockets already open (an address bound
                // before another failed) go.
                guard ownsStack else { return eventLoop.makeFailedFuture(error) }
                return stack.close().flatMapThrowing { throw error }.flatMapErrorThrowing { _ in throw error }
            }
        }
    }

    // MARK: User calls (each hops onto the event loop, or runs at once when called on it)

    /// Runs `body` now when called on the event loop (from `onEvent` or a future's callback:
    /// what it sends leaves when the current dispatch is over, in the same turn of the loop),
    /// else as a task on the loop.
    private func onLoop<T>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        eventLoop.inEventLoop ? body() : eventLoop.flatSubmit(body)
    }

    /// Sets up an association to a peer reachable at `addresses` (the seed's `sctp_connectx`),
    /// succeeding with its id once it is up; fails with ECONNREFUSED, ETIMEDOUT, EALREADY,
    /// EINVAL or ENOBUFS as `SCTPError`.
    public func connect(to addresses: [String], port: UInt16) -> EventLoopFuture<AssociationID> {
        onLoop { [self] in
            var peers: [IPAddress] = []
            for text in addresses {
                guard let socketAddress = try? SocketAddress(ipAddress: text, port: 0), let address = IPAddress(socketAddress) else {
                    return eventLoop.makeFailedFuture(SCTPError(.invalidArgument, "not an IP address: \(text)"))
                }
                peers.append(address)
            }
            do {
                return try driver.connect(to: peers, port: port).1
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Queues a message; when the send buffer is full the future waits until there is room.
    public func send(_ message: OutgoingMessage, on id: AssociationID) -> EventLoopFuture<Void> {
        onLoop { [self] in driver.send(message, on: id) }
    }

    /// Queues several messages with one hop to the event loop (cheaper than one `send` each);
    /// the future completes when the last of them is queued (waiting for room as `send` does),
    /// or fails with the first error, and the messages after that one are not queued.
    public func send(_ messages: [OutgoingMessage], on id: AssociationID) -> EventLoopFuture<Void> {
        onLoop { [self] in driver.send(messages, on: id) }
    }

    /// How the endpoint's packets went out and came in: UDP GSO writes and GRO runs, writes
    /// straight to the sockets, through SwiftNIO's channel, or deferred until a full socket
    /// could take them (`SCTPOffloadCounters`).
    public func offloadCounters() -> EventLoopFuture<SCTPOffloadCounters> {
        stack.offloadCounters()
    }

    /// Graceful shutdown; completes when SHUTDOWN COMPLETE is exchanged.
    public func shutdown(_ id: AssociationID) -> EventLoopFuture<Void> {
        onLoop { [self] in driver.shutdown(id) }
    }

    /// Resets streams of an association (RFC 6525, `SCTP_RESET_STREAMS`): empty `streams`
    /// means all. Completes once the request is queued; the outcome arrives as
    /// `SCTPEvent.streamReset`. Fails with EOPNOTSUPP, EINVAL or EALREADY (`SCTPError`).
    public func resetStreams(_ streams: [UInt16], direction: StreamResetDirection, on id: AssociationID) -> EventLoopFuture<Void> {
        onLoop { [self] in
            do {
                try driver.resetStreams(streams, direction: direction, of: id)
                return eventLoop.makeSucceededVoidFuture()
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Aborts an association at once (ABORT chunk, RFC 9260 §9.1), with `reason` as the
    /// User-Initiated Abort cause's data; queued and unacknowledged data is dropped. Fails
    /// with EINVAL (`SCTPError`) when no such association exists.
    public func abort(_ id: AssociationID, reason: ByteBuffer? = nil) -> EventLoopFuture<Void> {
        onLoop { [self] in
            do {
                try driver.abort(id, reason: reason)
                return eventLoop.makeSucceededVoidFuture()
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// The peer's addresses of an association (`sctp_getpaddrs`).
    public func peerAddresses(of id: AssociationID) -> EventLoopFuture<[IPAddress]> {
        eventLoop.submit { [self] in driver.peerAddresses(of: id).map(\.address) }
    }

    /// The negotiated stream counts of an association.
    public func streams(of id: AssociationID) -> EventLoopFuture<(outbound: UInt16, inbound: UInt16)?> {
        eventLoop.submit { [self] in driver.streams(of: id) }
    }

    /// Switches an association's stream scheduler (`SCTP_STREAM_SCHEDULER`, RFC 8260 §3);
    /// queued messages stay. Fails with EINVAL (`SCTPError`) when no such association exists.
    public func setStreamScheduler(_ kind: StreamSchedulerKind, of id: AssociationID) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in try driver.setStreamScheduler(kind, of: id) }
    }

    /// Sets the scheduler value (priority or weight) of an outbound stream
    /// (`SCTP_STREAM_SCHEDULER_VALUE`). Fails with EINVAL for a stream that does not exist.
    public func setStreamSchedulerValue(_ value: UInt16, stream: UInt16, of id: AssociationID) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in try driver.setStreamSchedulerValue(value, stream: stream, of: id) }
    }

    /// The data transfer counters of an association (retransmissions, SACKs, ...), `nil`
    /// once it is gone.
    public func statistics(of id: AssociationID) -> EventLoopFuture<AssociationStatistics?> {
        eventLoop.submit { [self] in driver.statistics(of: id) }
    }

    /// A snapshot of an association (`SCTP_STATUS`: windows, paths with their MTU and path MTU
    /// discovery state), `nil` once it is gone.
    public func status(of id: AssociationID) -> EventLoopFuture<AssociationStatus?> {
        eventLoop.submit { [self] in driver.status(of: id) }
    }

    /// The same counters, read at once: call it on the event loop only, for example from the
    /// `onEvent` handler, where an association that has just ended (`shutdownComplete`,
    /// `communicationLost`) is still known.
    public func statisticsOnEventLoop(of id: AssociationID) -> AssociationStatistics? {
        eventLoop.preconditionInEventLoop()
        return driver.statistics(of: id)
    }

    /// The snapshot of ``status(of:)``, read at once: call it on the event loop only (from
    /// the `onEvent` handler or a task scheduled on `eventLoop`).
    public func statusOnEventLoop(of id: AssociationID) -> AssociationStatus? {
        eventLoop.preconditionInEventLoop()
        return driver.status(of: id)
    }

    /// The peer's addresses of an association, read at once: call it on the event loop only
    /// (from the `onEvent` handler).
    public func peerAddressesOnEventLoop(of id: AssociationID) -> [IPAddress] {
        eventLoop.preconditionInEventLoop()
        return driver.peerAddresses(of: id).map(\.address)
    }

    /// The UDP port this shard learned for `address`:`sctpPort` (on the event loop).
    func learnedUDPPort(of address: IPAddress, sctpPort: UInt16) -> Int? { stack.learnedUDPPort(of: address, sctpPort: sctpPort) }

    /// A datagram another shard handed over (`SCTPShardDirectory.forward`), with the UDP port
    /// it came from, when known; on the event loop.
    func receiveHandedOver(_ datagram: ByteBuffer, from source: IPAddress, udpPort: Int?, to destination: IPAddress,
                           congestionExperienced: Bool) {
        if let udpPort, let sctpPort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) {
            stack.learn(udpPort, of: source, sctpPort: sctpPort)
        }
        driver.received(datagram: datagram, from: source, to: destination, congestionExperienced: congestionExperienced, forwarded: true)
        driver.flush()
    }

    /// Closes the sockets (those of its own stack; an endpoint started on a shared stack leaves
    /// the stack open); associations still alive are aborted first.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { [self] in
            driver.close()
            return ownsStack ? stack.close() : eventLoop.makeSucceededVoidFuture()
        }
    }
}

extension UDPEncapsulationEndpoint: EndpointEventSink {
    func endpointDriver(_ driver: EndpointDriver, deliver event: SCTPEvent) {
        onEvent(event)
        if case .message(let id, let message) = event {
            driver.consumedDuringDispatch(bytes: message.payload.readableBytes, on: id)
        }
    }
}
