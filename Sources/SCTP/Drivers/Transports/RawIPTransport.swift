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
final class RawIPTransport: SocketTransport, StackTransport, @unchecked Sendable {
    override func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)> {
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

    override func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress) {
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
        write(packet, from: source, to: destination, port: 0, ecnCapable: ecnCapable)
    }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? { nil }
}
