import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTPCore
import SCTPWire
import SystemPackage

/// An SCTP stack over UDP encapsulation (RFC 6951): the UDP sockets that carry SCTP, and the
/// SCTP endpoints (sockets) that share them.
///
/// One UDP socket is opened per local IP address that some SCTP socket binds, all on the
/// stack's UDP port (9899 unless set). Every SCTP endpoint of the stack sends and receives
/// through those UDP sockets; arriving packets are told apart by their SCTP destination port
/// (and address), as the kernel tells apart SCTP sockets. A packet for a port where nothing
/// listens gets the answer RFC 9260 §8.4 gives (an INIT is refused with ABORT).
///
/// The peer's UDP port is learned per peer address and SCTP port from what arrives (RFC 6951
/// §5.4); until then the socket's `SCTP_REMOTE_UDP_ENCAPS_PORT` or the stack's
/// `peerUDPPort` is used.
///
/// All of a stack's work runs on one event loop, `eventLoop`; the sockets of the stack use
/// it too. Create several stacks (with different UDP ports) to use several cores.
public final class SCTPStack: @unchecked Sendable {
    /// How the stack is set up.
    public struct Options: Sendable {
        /// The local UDP port; 0 picks a free one when the first address is bound (the same
        /// port is then used for every further address).
        public var udpPort: Int = 9899
        /// The peer's UDP port until one is learned from a received packet; 0 means the
        /// stack's own UDP port (peers that use the same port, as RFC 6951's default 9899 does).
        public var peerUDPPort: Int = 9899
        /// The kernel buffers of each UDP socket.
        public var socketBufferSize: Int = 4 << 20

        public init(udpPort: Int = 9899, peerUDPPort: Int = 9899) {
            self.udpPort = udpPort
            self.peerUDPPort = peerUDPPort
        }
    }

    /// The stack every socket uses unless given another: UDP port 9899 both sides, on one
    /// loop of NIO's singleton event loop group.
    public static let shared = SCTPStack()

    public let options: Options
    /// The loop all of the stack's sockets run on.
    public let eventLoop: any EventLoop

    private let origin = NIODeadline.now()
    private let logger = Logger(label: "swift-sctp.stack")
    private let boundPort = NIOLockedValueBox<Int?>(nil)

    // Confined to `eventLoop`:
    private var channels: [IPAddress: any Channel] = [:]
    private var opening: [IPAddress: EventLoopFuture<Void>] = [:]
    private var drivers: [UInt16: [EndpointDriver]] = [:]
    private var learnedUDPPorts: [PeerKey: Int] = [:]
    private var touchedChannels: [ObjectIdentifier: any Channel] = [:]
    private var touchedDrivers: [ObjectIdentifier: EndpointDriver] = [:]
    private var isClosed = false

    private struct PeerKey: Hashable {
        var address: IPAddress
        var sctpPort: UInt16
    }

    /// A stack on one loop of `group`.
    public init(options: Options = Options(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        eventLoop = group.next()
    }

    /// The UDP port the stack's sockets are bound to, once one is.
    public var udpPort: Int? { boundPort.withLockedValue { $0 } }

    // MARK: Time

    var now: SCTPInstant {
        SCTPInstant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds &- origin.uptimeNanoseconds))
    }

    func deadline(of instant: SCTPInstant) -> NIODeadline {
        .uptimeNanoseconds(origin.uptimeNanoseconds &+ UInt64(max(instant.nanoseconds, 0)))
    }

    // MARK: UDP sockets (on the loop)

    /// Opens the UDP sockets for `addresses` that are not open yet.
    func open(_ addresses: [IPAddress]) -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        var future = eventLoop.makeSucceededVoidFuture()
        for address in addresses {
            future = future.flatMap { self.open(address) }
        }
        return future
    }

    private func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if isClosed { return eventLoop.makeFailedFuture(SCTPError(.badFileDescriptor, "the stack is closed")) }
        if channels[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = opening[address] { return pending }
        let port = boundPort.withLockedValue { $0 } ?? options.udpPort
        let future = DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(options.socketBufferSize))
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(options.socketBufferSize))
            // recvmmsg: up to 32 datagrams per read, each up to 9216 bytes (the buffer is split among them).
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: 32)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 9216))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPInboundHandler(stack: self, localAddress: address))
                }
            }
            .bind(host: address.description, port: port)
            .flatMapErrorThrowing { error -> any Channel in
                throw Self.bindError(error, address: address, port: port)
            }
            .map { (channel: any Channel) in
                self.channels[address] = channel
                if let bound = channel.localAddress?.port {
                    self.boundPort.withLockedValue { if $0 == nil { $0 = bound } }
                }
            }
        opening[address] = future
        future.whenComplete { _ in self.opening[address] = nil }
        return future
    }

    private static func bindError(_ error: any Error, address: IPAddress, port: Int) -> SCTPError {
        if let io = error as? IOError {
            switch io.errnoCode {
            case Errno.addressInUse.rawValue: return SCTPError(.addressInUse, "UDP port \(port) on \(address) is in use")
            case Errno.addressNotAvailable.rawValue: return SCTPError(.addressNotAvailable, "\(address) is not an address of this machine")
            case Errno.permissionDenied.rawValue: return SCTPError(.permissionDenied, "no permission to bind UDP port \(port) on \(address)")
            default: break
            }
        }
        return SCTPError(.addressNotAvailable, "cannot bind UDP \(address):\(port): \(error)")
    }

    // MARK: SCTP endpoints (on the loop)

    /// Registers an endpoint under its SCTP port; EADDRINUSE if another endpoint of the stack
    /// has that port on one of the same addresses.
    func register(_ driver: EndpointDriver) throws(SCTPError) {
        eventLoop.assertInEventLoop()
        if isClosed { throw SCTPError(.badFileDescriptor, "the stack is closed") }
        if let clash = conflict(port: driver.localPort, addresses: driver.localAddresses) {
            throw SCTPError(.addressInUse, "SCTP port \(driver.localPort) is in use on \(clash)")
        }
        drivers[driver.localPort, default: []].append(driver)
    }

    func unregister(_ driver: EndpointDriver) {
        drivers[driver.localPort]?.removeAll { $0 === driver }
        if drivers[driver.localPort]?.isEmpty ?? false { drivers[driver.localPort] = nil }
    }

    /// An address of `addresses` on which `port` is taken, if any.
    func conflict(port: UInt16, addresses: [IPAddress]) -> IPAddress? {
        for other in drivers[port] ?? [] {
            if let shared = other.localAddresses.first(where: addresses.contains) { return shared }
        }
        return nil
    }

    /// A free SCTP port (from the dynamic range) for `addresses`.
    func ephemeralPort(for addresses: [IPAddress]) throws(SCTPError) -> UInt16 {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let port = UInt16.random(in: 49152...65535, using: &generator)
            if conflict(port: port, addresses: addresses) == nil { return port }
        }
        for port in UInt16(49152)...UInt16(65535) where conflict(port: port, addresses: addresses) == nil { return port }
        throw SCTPError(.addressInUse, "no free SCTP port")
    }

    // MARK: Datagrams

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
        let datagram = envelope.data
        guard !isClosed, let source = IPAddress(envelope.remoteAddress), let udpPort = envelope.remoteAddress.port,
              let sourcePort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self),
              let destinationPort = datagram.getInteger(at: datagram.readerIndex + 2, as: UInt16.self),
              datagram.readableBytes >= 12 else { return }
        learnedUDPPorts[PeerKey(address: source, sctpPort: sourcePort)] = udpPort
        let candidates = drivers[destinationPort] ?? []
        if let driver = candidates.first(where: { $0.localAddresses.contains(local) }) ?? candidates.first {
            driver.received(datagram: datagram, from: source, to: local)
            touchedDrivers[ObjectIdentifier(driver)] = driver
        } else {
            answerOutOfTheBlue(datagram, from: source, to: local)
        }
    }

    fileprivate func readComplete() {
        let touched = touchedDrivers.values
        touchedDrivers.removeAll(keepingCapacity: true)
        for driver in touched { driver.flush() }
        flushWrites()
    }

    /// RFC 9260 §8.4 for a packet to a port nobody has: INIT refused with ABORT, and so on.
    private func answerOutOfTheBlue(_ datagram: ByteBuffer, from source: IPAddress, to local: IPAddress) {
        guard let packet = try? SCTPPacket(parsing: datagram), (try? packet.validateBundling()) != nil,
              let answer = OutOfTheBlue.response(to: packet) else { return }
        send(Transmit(datagram: answer.serialized(), destination: source, source: local), from: [local], remoteUDPPort: nil)
        flushWrites()
    }

    /// Writes a datagram (flushed by `flushWrites`) from one of `localAddresses` (the
    /// endpoint's: a peer takes the source address for one of ours).
    func send(_ transmit: Transmit, from localAddresses: [IPAddress], remoteUDPPort: Int?) {
        guard let channel = channel(for: transmit, from: localAddresses),
              let peerSCTPPort = transmit.datagram.getInteger(at: transmit.datagram.readerIndex + 2, as: UInt16.self) else { return }
        let port = learnedUDPPorts[PeerKey(address: transmit.destination, sctpPort: peerSCTPPort)]
            ?? remoteUDPPort ?? (options.peerUDPPort == 0 ? udpPort ?? 0 : options.peerUDPPort)
        guard let remote = try? transmit.destination.socketAddress(port: port) else { return }
        channel.write(AddressedEnvelope(remoteAddress: remote, data: transmit.datagram), promise: nil)
        touchedChannels[ObjectIdentifier(channel)] = channel
    }

    func flushWrites() {
        guard !touchedChannels.isEmpty else { return }
        for channel in touchedChannels.values { channel.flush() }
        touchedChannels.removeAll(keepingCapacity: true)
    }

    private func channel(for transmit: Transmit, from localAddresses: [IPAddress]) -> (any Channel)? {
        if let source = transmit.source, let channel = channels[source] { return channel }
        let family = transmit.destination.isIPv4
        let sameFamily = localAddresses.filter { $0.isIPv4 == family && channels[$0] != nil }
        // Loopback peers are reached from a loopback address, others from any other.
        let chosen = sameFamily.first(where: { $0.isLoopback == transmit.destination.isLoopback }) ?? sameFamily.first
        return chosen.flatMap { channels[$0] }
    }

    /// Closes every socket of the stack and the UDP sockets. The shared stack cannot be closed.
    public func close() -> EventLoopFuture<Void> {
        guard self !== SCTPStack.shared else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "the shared stack lives as long as the process"))
        }
        return eventLoop.flatSubmit { [self] in
            for driver in drivers.values.flatMap({ $0 }) { driver.close() }
            isClosed = true
            let futures = channels.values.map { $0.close() }
            channels.removeAll()
            return EventLoopFuture.andAllComplete(futures, on: eventLoop)
        }
    }
}

/// Feeds datagrams from one UDP socket into the stack.
private final class UDPInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let stack: SCTPStack
    let localAddress: IPAddress

    init(stack: SCTPStack, localAddress: IPAddress) {
        self.stack = stack
        self.localAddress = localAddress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stack.received(unwrapInboundIn(data), at: localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        stack.readComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (port unreachable) surface here; SCTP's own timers handle lost peers.
    }
}
