import NIOCore
import SCTPWire

/// How a stack's packets travel: UDP encapsulation, raw IP, or a user-supplied carrier. A
/// transport opens what a local address needs, writes packets, and hands what arrives to
/// its stack with `SCTPStack.received(_:from:to:)`. Used on the stack's event loop only.
protocol StackTransport: AnyObject {
    /// Makes `address` usable as a local address (binds its socket); idempotent.
    func open(_ address: IPAddress) -> EventLoopFuture<Void>
    /// Whether `address` is open.
    func isOpen(_ address: IPAddress) -> Bool
    /// Queues a packet (flushed by `flush`). `remoteUDPPort` is the socket's setting, for UDP.
    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?)
    func flush()
    func close() -> EventLoopFuture<Void>
    /// How packets look on the wire, for pcap records (`nil`: no UDP header).
    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)?
}

/// A `ChannelInboundHandler` that feeds datagrams from one socket into a stack.
final class DatagramInboundHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let localAddress: IPAddress
    let onRead: (AddressedEnvelope<ByteBuffer>, IPAddress) -> Void
    let onReadComplete: () -> Void

    init(localAddress: IPAddress, onRead: @escaping (AddressedEnvelope<ByteBuffer>, IPAddress) -> Void,
         onReadComplete: @escaping () -> Void) {
        self.localAddress = localAddress
        self.onRead = onRead
        self.onReadComplete = onReadComplete
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onRead(unwrapInboundIn(data), localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        onReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (port unreachable) surface here; SCTP's own timers handle lost peers.
    }
}
