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
            .map { (channel: any Channel) in self.channels[address] = channel }
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

    func close() -> EventLoopFuture<Void> {
        let futures = channels.values.map { $0.close() }
        channels.removeAll()
        return EventLoopFuture.andAllComplete(futures, on: eventLoop)
    }
}
