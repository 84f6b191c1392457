import NIOCore
import SCTPWire

/// How a stack's packets travel: UDP encapsulation (`UDPTransport`), raw IP
/// (`RawIPTransport`) or a user-supplied carrier (`CarrierTransport`). A transport opens
/// what a local address needs, queues packets and sends them at `flush`, and hands what
/// arrives to its stack with `SCTPStack.received(_:from:to:congestionExperienced:)`.
///
/// The stack holds its transport in an enum over these three (`SCTPStack.Transport`), so
/// that every call on the packet path is a direct one. Used on the stack's event loop only.
protocol DatagramTransport: AnyObject {
    /// Makes `address` usable as a local address (binds its socket); idempotent.
    func open(_ address: IPAddress) -> EventLoopFuture<Void>
    /// Whether `address` is open.
    func isOpen(_ address: IPAddress) -> Bool
    /// Queues a packet (sent by `flush`). `remoteUDPPort` is the socket's setting, for UDP;
    /// `ecnCapable` marks it ECT(0) where the transport can (UDP and raw IP sockets).
    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool)
    /// Sends what `write` queued.
    func flush()
    /// Sends what is queued, then closes every socket.
    func close() -> EventLoopFuture<Void>
    /// The UDP ports a packet leaving has on the wire, for pcap records (`nil`: no UDP header).
    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)?
    /// The UDP ports an arrived packet had on the wire (source, destination), for pcap records.
    func udpPorts(ofArrival datagram: ByteBuffer, from source: IPAddress) -> (source: UInt16, destination: UInt16)?
    /// GSO writes, GRO runs, direct and channel writes so far.
    var offloadCounters: SCTPOffloadCounters { get }
}

/// A kind of datagram socket that SwiftNIO channels read (UDP and raw IP sockets on
/// SwiftNIO's loops). `DatagramSocketTable.open(_:with:)` uses it.
protocol ChannelSocketMaker: AnyObject, Sendable {
    /// A bound socket for `address` whose pipeline holds `handler`, and its descriptor if
    /// the writer may write to it directly.
    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)>
    /// A datagram arrived on the socket of `local`.
    func received(_ envelope: AddressedEnvelope<ByteBuffer>, at local: IPAddress)
}

/// A kind of datagram socket that swift-sctp's own loop (`SCTPEventLoop`) reads: the
/// transport makes the socket, the loop says when it is readable, the transport reads it.
/// `DatagramSocketTable.open(_:with:on:)` uses it. UDP only: raw IP runs on SwiftNIO's loops.
protocol OwnLoopSocketMaker: AnyObject, Sendable {
    /// A bound, non-blocking socket for `address`, ready to be read.
    func makeOwnSocket(for address: IPAddress) throws -> CInt
    /// `descriptor`, the socket of `local`, is readable: read a batch and hand it to the stack.
    /// `errorPending`: the loop also saw EPOLLERR, so the socket's error queue has an entry.
    func readable(_ descriptor: CInt, at local: IPAddress, errorPending: Bool)
}
