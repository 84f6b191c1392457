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
///
/// SwiftNIO channels read and write the sockets (`ChannelSocketMaker`), through the shared
/// batching writer; raw sockets cannot run on swift-sctp's own loop.
final class RawIPTransport: DatagramTransport, ChannelSocketMaker, @unchecked Sendable {
    unowned let stack: SCTPStack
    /// The sockets, one per local address, and the writer.
    let sockets: DatagramSocketTable
    private var eventLoop: any EventLoop { stack.eventLoop }

    init(stack: SCTPStack) {
        self.stack = stack
        sockets = DatagramSocketTable(eventLoop: stack.eventLoop, segmentationOffload: false)
    }

    // MARK: DatagramTransport

    func open(_ address: IPAddress) -> EventLoopFuture<Void> {
        guard stack.ownLoop == nil else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported,
                "this transport's sockets run on SwiftNIO's loops only: give its stack a SwiftNIO group"))
        }
        return sockets.open(address, with: self, readComplete: { [unowned stack] in stack.readComplete() })
    }

    func isOpen(_ address: IPAddress) -> Bool { sockets.isOpen(address) }
    func flush() { sockets.writer.flush() }
    func close() -> EventLoopFuture<Void> { sockets.close() }
    var offloadCounters: SCTPOffloadCounters { sockets.writer.counters }

    // MARK: Sockets

    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)> {
        guard let bootstrap = NIORawSocketBootstrap(validatingGroup: eventLoop) else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "raw sockets need a NIO event loop"))
        }
        return bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .bind(host: address.description, ipProtocol: NIOIPProtocol(rawValue: 132))
            .flatMapErrorThrowing { error -> any Channel in
                if let io = error as? IOError, io.errnoCode == Errno.notPermitted.rawValue || io.errnoCode == Errno.permissionDenied.rawValue {
                    throw SCTPError(.notPermitted, "SCTP over raw IP needs CAP_NET_RAW (run as root, or use UDP encapsulation)")
                }
                throw SCTPStack.bindError(error, what: "raw IP protocol 132 on \(address)", address: address)
            }
            .map { ($0, nil) }
    }

    func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
        var packet = envelope.data
        guard let source = IPAddress(envelope.remoteAddress) else { return }
        var congestion = envelope.metadata?.ecnState == .congestionExperienced
        if source.isIPv4 {
            // IPv4 raw sockets deliver the IP header (its ECN field is the low two bits of the
            // second byte); IPv6 ones do not.
            guard let first = packet.getInteger(at: packet.readerIndex, as: UInt8.self), first >> 4 == 4,
                  let tos = packet.getInteger(at: packet.readerIndex + 1, as: UInt8.self) else { return }
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, packet.readableBytes >= headerLength else { return }
            packet.moveReaderIndex(forwardBy: headerLength)
            congestion = tos & 0x03 == 0x03
        }
        stack.received(packet, from: source, to: local, congestionExperienced: congestion)
    }

    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool) {
        sockets.write(packet, from: source, to: destination, port: 0, ecnCapable: ecnCapable)
    }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? { nil }

    func udpPorts(ofArrival datagram: ByteBuffer, from source: IPAddress) -> (source: UInt16, destination: UInt16)? { nil }
}
