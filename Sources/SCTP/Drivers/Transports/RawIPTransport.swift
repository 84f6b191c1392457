import Logging
import NIOCore
import NIOPosix
import SCTPWire
import SystemPackage

/// SCTP directly over IP (protocol 132): one raw socket per local address. Needs
/// CAP_NET_RAW (root); without it opening an address fails with EPERM.
///
/// A raw socket sees every SCTP packet to its address, whatever the port. Two SCTP stacks on
/// raw IP for the same address (two processes) would both see them; each one's answers to
/// packets "out of the blue" would then break the other's associations, so a raw IP stack
/// does not answer them unless `answersOutOfTheBlue` is set.
final class RawIPTransport: StackTransport, @unchecked Sendable {
    unowned let stack: SCTPStack
    private var eventLoop: any EventLoop { stack.eventLoop }
    private var channels: [IPAddress: any Channel] = [:]
    private var opening: [IPAddress: EventLoopFuture<Void>] = [:]
    private var touched: [ObjectIdentifier: any Channel] = [:]
    private var closing = false
    private let logger = Logger(label: "swift-sctp.transport")

    init(stack: SCTPStack) {
        self.stack = stack
    }

    func isOpen(_ address: IPAddress) -> Bool { channels[address] != nil }

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        if channels[address] != nil { return eventLoop.makeSucceededVoidFuture() }
        if let pending = opening[address] { return pending }
        let stack = stack
        guard let bootstrap = NIORawSocketBootstrap(validatingGroup: eventLoop) else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "raw sockets need a NIO event loop"))
        }
        let future = bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramInboundHandler(
                        localAddress: address,
                        onRead: { [unowned self] envelope, local in received(envelope, at: local) },
                        onReadComplete: { stack.readComplete() }))
                }
            }
            .bind(host: address.description, ipProtocol: NIOIPProtocol(rawValue: 132))
            .flatMapErrorThrowing { error -> any Channel in
                if let io = error as? IOError, io.errnoCode == Errno.notPermitted.rawValue || io.errnoCode == Errno.permissionDenied.rawValue {
                    throw SCTPError(.notPermitted, "SCTP over raw IP needs CAP_NET_RAW (run as root, or use UDP encapsulation)")
                }
                throw SCTPStack.bindError(error, what: "raw IP protocol 132 on \(address)", address: address)
            }
            .map { (channel: any Channel) in
                self.channels[address] = channel
                self.reopenWhenClosed(channel, address: address)
            }
        opening[address] = future
        future.whenComplete { _ in self.opening[address] = nil }
        return future
    }

    private func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
        var packet = envelope.data
        guard let source = IPAddress(envelope.remoteAddress) else { return }
        if source.isIPv4 {
            // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
            guard let first = packet.getInteger(at: packet.readerIndex, as: UInt8.self), first >> 4 == 4 else { return }
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, packet.readableBytes >= headerLength else { return }
            packet.moveReaderIndex(forwardBy: headerLength)
        }
        stack.received(packet, from: source, to: local)
    }

    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?) {
        guard let channel = channels[source], let remote = try? destination.socketAddress(port: 0) else { return }
        channel.write(AddressedEnvelope(remoteAddress: remote, data: packet), promise: nil)
        touched[ObjectIdentifier(channel)] = channel
    }

    func flush() {
        guard !touched.isEmpty else { return }
        for channel in touched.values { channel.flush() }
        touched.removeAll(keepingCapacity: true)
    }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? { nil }

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
