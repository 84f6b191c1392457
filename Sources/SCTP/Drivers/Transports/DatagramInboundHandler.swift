import NIOCore
import SCTPWire

/// A `ChannelInboundHandler` that feeds datagrams from one socket into a transport.
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
