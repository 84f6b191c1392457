import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import SCTPWire
import SystemPackage

/// SCTP over UDP (RFC 6951): one UDP socket per local address, all on one UDP port.
///
/// The peer's UDP port is learned per peer address and SCTP port from what arrives
/// (RFC 6951 §5.4); until then the socket's `SCTP_REMOTE_UDP_ENCAPS_PORT` or the stack's
/// `peerUDPPort` is used (0: the stack's own port).
final class UDPTransport: StackTransport, @unchecked Sendable {
    unowned let stack: SCTPStack
    let options: SCTPStack.Options
    private var eventLoop: any EventLoop { stack.eventLoop }
    /// The UDP port bound, readable from any thread.
    let boundPort: NIOLockedValueBox<Int?>

    private var channels: [IPAddress: any Channel] = [:]
    private var opening: [IPAddress: EventLoopFuture<Void>] = [:]
    private var learnedUDPPorts: [PeerKey: Int] = [:]
    private var touched: [ObjectIdentifier: any Channel] = [:]
    private var closing = false
    private let logger = Logger(label: "swift-sctp.transport")

    private struct PeerKey: Hashable {
        var address: IPAddress
        var sctpPort: UInt16
    }

    init(stack: SCTPStack, options: SCTPStack.Options, boundPort: NIOLockedValueBox<Int?>) {
        self.stack = stack
        self.options = options
        self.boundPort = boundPort
    }

    func isOpen(_ address: IPAddress) -> Bool { channels[address] != nil }

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if channels[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = opening[address] { return pending }
        let port = boundPort.withLockedValue { $0 } ?? options.udpPort
        let stack = stack
        let future = DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(options.socketBufferSize))
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(options.socketBufferSize))
            // recvmmsg: up to 32 datagrams per read, each up to 9216 bytes (the buffer is split among them).
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: 32)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 9216))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramInboundHandler(
                        localAddress: address,
                        onRead: { [unowned self] envelope, local in received(envelope, at: local) },
                        onReadComplete: { stack.readComplete() }))
                }
            }
            .bind(host: address.description, port: port)
            .flatMapErrorThrowing { error -> any Channel in
                throw SCTPStack.bindError(error, what: "UDP port \(port) on \(address)", address: address)
            }
            .map { (channel: any Channel) in
                self.channels[address] = channel
                if let bound = channel.localAddress?.port {
                    self.boundPort.withLockedValue { if $0 == nil { $0 = bound } }
                }
                self.reopenWhenClosed(channel, address: address)
            }
        opening[address] = future
        future.whenComplete { _ in self.opening[address] = nil }
        return future
    }

    private func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
        let datagram = envelope.data
        guard let source = IPAddress(envelope.remoteAddress), let udpPort = envelope.remoteAddress.port,
              let sourcePort = datagram.getInteger(at: datagram.readerIndex, as: UInt16.self) else { return }
        learnedUDPPorts[PeerKey(address: source, sctpPort: sourcePort)] = udpPort
        stack.received(datagram, from: source, to: local)
    }

    private func peerPort(_ destination: IPAddress, sctpPort: UInt16, remoteUDPPort: Int?) -> Int {
        learnedUDPPorts[PeerKey(address: destination, sctpPort: sctpPort)]
            ?? remoteUDPPort ?? (options.peerUDPPort == 0 ? boundPort.withLockedValue { $0 } ?? 0 : options.peerUDPPort)
    }

    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?) {
        guard let channel = channels[source],
              let sctpPort = packet.getInteger(at: packet.readerIndex + 2, as: UInt16.self) else { return }
        let port = peerPort(destination, sctpPort: sctpPort, remoteUDPPort: remoteUDPPort)
        guard let remote = try? destination.socketAddress(port: port) else { return }
        channel.write(AddressedEnvelope(remoteAddress: remote, data: packet), promise: nil)
        touched[ObjectIdentifier(channel)] = channel
    }

    func flush() {
        guard !touched.isEmpty else { return }
        for channel in touched.values { channel.flush() }
        touched.removeAll(keepingCapacity: true)
    }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? {
        let local = UInt16(truncatingIfNeeded: boundPort.withLockedValue { $0 } ?? 0)
        return (local, UInt16(truncatingIfNeeded: peerPort(destination, sctpPort: sctpDestinationPort, remoteUDPPort: remoteUDPPort)))
    }

    /// The peer's UDP port a received packet came from (for pcap records).
    func learnedPort(of source: IPAddress, sctpPort: UInt16) -> Int? {
        learnedUDPPorts[PeerKey(address: source, sctpPort: sctpPort)]
    }

    /// NIO closes a datagram socket on errors such as ENETUNREACH (a path whose link went
    /// down); the address must stay usable for every association, so it is opened again.
    private func reopenWhenClosed(_ channel: any Channel, address: IPAddress, attempt: Int = 0) {
        channel.closeFuture.whenComplete { [self] _ in
            guard !closing, channels[address] === channel else { return }
            channels[address] = nil
            reopen(address, attempt: 0)
        }
    }

    private func reopen(_ address: IPAddress, attempt: Int) {
        guard !closing, channels[address] == nil else { return }
        logger.warning("socket on \(address) closed by an error; opening it again", metadata: ["attempt": "\(attempt)"])
        open(address).whenFailure { [self] error in
            // Retried with a growing delay, at most every 5 s, until the stack closes.
            let delay = TimeAmount.milliseconds(Int64(min(100 << min(attempt, 6), 5000)))
            eventLoop.scheduleTask(in: delay) { [self] in reopen(address, attempt: attempt + 1) }
        }
    }

    func close() -> EventLoopFuture<Void> {
        closing = true
        let futures = channels.values.map { $0.close() }
        channels.removeAll()
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }
}
