import NIOCore
import SCTPWire

/// A packet a user-supplied carrier moves (DTLS for WebRTC data channels, a tunnel, a test
/// relay): the SCTP packet from its common header on, and the addresses the stack uses to
/// tell paths apart. The carrier moves the bytes; the addresses are labels the two ends
/// agree on (for a point-to-point carrier any two fixed addresses will do).
public struct SCTPCarrierPacket: Sendable {
    /// The SCTP packet, from its common header on.
    public var bytes: ByteBuffer
    /// The address label of the sending end.
    public var source: IPAddress
    /// The address label of the receiving end.
    public var destination: IPAddress

    /// A packet with its address labels.
    public init(bytes: ByteBuffer, source: IPAddress, destination: IPAddress) {
        self.bytes = bytes
        self.source = source
        self.destination = destination
    }
}

/// The transport of a carrier stack: packets go to the user's closure, and come in through
/// `SCTPStack.receive(_:)`. Every address counts as open.
final class CarrierTransport: DatagramTransport, @unchecked Sendable {
    let output: @Sendable (SCTPCarrierPacket) -> Void
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop, output: @escaping @Sendable (SCTPCarrierPacket) -> Void) {
        self.eventLoop = eventLoop
        self.output = output
    }

    func open(_ address: IPAddress) -> EventLoopFuture<Void> { eventLoop.makeSucceededVoidFuture() }
    func isOpen(_ address: IPAddress) -> Bool { true }

    func write(_ packet: ByteBuffer, from source: IPAddress, to destination: IPAddress, remoteUDPPort: Int?, ecnCapable: Bool) {
        output(SCTPCarrierPacket(bytes: packet, source: source, destination: destination))
    }

    func flush() {}
    func close() -> EventLoopFuture<Void> { eventLoop.makeSucceededVoidFuture() }

    func udpPorts(from source: IPAddress, to destination: IPAddress, sctpDestinationPort: UInt16,
                  remoteUDPPort: Int?) -> (source: UInt16, destination: UInt16)? { nil }

    func udpPorts(ofArrival datagram: ByteBuffer, from source: IPAddress) -> (source: UInt16, destination: UInt16)? { nil }
    var offloadCounters: SCTPOffloadCounters { SCTPOffloadCounters() }
}
