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
///
/// SwiftNIO channels read and write the sockets (`ChannelSocketMaker`), through the shared
/// batching writer; raw sockets cannot run on swift-sctp's own loop.
final class RawIPTransport: DatagramTransport, ChannelSocketMaker, @unchecked Sendable {
    unowned let stack: SCTPStack
    private let logger = Logger(label: "swift-sctp.transport")
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
        let opened = sockets.open(address, with: self, readComplete: { [unowned stack] in stack.readComplete() })
        guard stack.options.pathMTUSockets else { return opened }
        return opened.flatMap { [self] in openICMP(address) }
    }

    func isOpen(_ address: IPAddress) -> Bool { sockets.isOpen(address) }
    func flush() { sockets.writer.flush() }
    func close() -> EventLoopFuture<Void> {
        icmpClosed = true
        let icmp = icmpChannels.values.compactMap { $0 }.map { $0.close() }
        icmpChannels = [:]
        return EventLoopFuture.andAllComplete(icmp, on: eventLoop).flatMap { [self] in sockets.close() }
    }

    // MARK: Packet Too Big (path MTU sockets)

    /// The ICMP / ICMPv6 raw sockets, one per local address; `nil` while one is being opened
    /// (only on the stack's loop).
    private var icmpChannels: [IPAddress: (any Channel)?] = [:]
    /// Set by `close()`: a socket whose opening finishes later is closed at once.
    private var icmpClosed = false

    /// Opens the ICMP (IPv4) or ICMPv6 raw socket of `address` (once): it reads the errors
    /// routers send to that address.
    private func openICMP(_ address: IPAddress) -> EventLoopFuture<Void> {
        guard !icmpClosed, icmpChannels.index(forKey: address) == nil,
              let bootstrap = NIORawSocketBootstrap(validatingGroup: eventLoop) else {
            return eventLoop.makeSucceededVoidFuture()
        }
        icmpChannels[address] = .some(nil)
        let handler = DatagramInboundHandler(localAddress: address, onRead: { [weak self] envelope, local in
            self?.receivedICMP(envelope.data, isIPv4: local.isIPv4)
        }, onReadComplete: { [weak stack] in stack?.readComplete() })
        return bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .bind(host: address.description, ipProtocol: NIOIPProtocol(rawValue: address.isIPv4 ? 1 : 58))
            .map { [self] channel in
                if icmpClosed {
                    channel.close(promise: nil)
                } else {
                    icmpChannels[address] = .some(channel)
                }
            }
            .recover { [self] _ in
                // No ICMP socket: discovery still finds the MTU by probe loss.
                if !icmpClosed { icmpChannels[address] = nil }
            }
    }

    /// An ICMP "fragmentation needed" (type 3 code 4) or ICMPv6 "packet too big" (type 2)
    /// quoting an SCTP packet we sent: the quoted SCTP packet goes to the stack with the
    /// reported MTU less the IP header (RFC 8899 §4.6.1: the endpoint validates it). IPv4 raw
    /// sockets deliver the IP header; ICMPv6 ones do not. Everything is bounded before it is
    /// read; anything else is ignored.
    func receivedICMP(_ message: ByteBuffer, isIPv4: Bool) {
        guard let report = Self.packetTooBig(message, isIPv4: isIPv4) else { return }
        logger.debug("packet too big (ICMP)", metadata: ["peer": "\(report.peer)", "mtu": "\(report.mtu)"])
        stack.packetTooBig(quoted: report.quoted, peer: report.peer, mtu: report.mtu, local: report.local)
    }

    /// Parses a Packet Too Big about an SCTP packet: the quoted SCTP bytes (at least its common
    /// header), our address and the peer's it was sent between, the MTU as an SCTP packet size.
    static func packetTooBig(_ message: ByteBuffer, isIPv4: Bool) -> (quoted: ByteBuffer, local: IPAddress, peer: IPAddress, mtu: Int)? {
        var icmp = message
        if isIPv4 {
            guard let first = icmp.getInteger(at: icmp.readerIndex, as: UInt8.self), first >> 4 == 4 else { return nil }
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, icmp.readableBytes >= headerLength + 8 else { return nil }
            icmp.moveReaderIndex(forwardBy: headerLength)
            guard let (type, code) = icmp.getMultipleIntegers(at: icmp.readerIndex, as: (UInt8, UInt8).self),
                  type == 3, code == 4,
                  let nextHopMTU = icmp.getInteger(at: icmp.readerIndex + 6, as: UInt16.self) else { return nil }
            icmp.moveReaderIndex(forwardBy: 8)
            // The quoted IPv4 header: SCTP, and our packet's addresses.
            guard let quotedFirst = icmp.getInteger(at: icmp.readerIndex, as: UInt8.self), quotedFirst >> 4 == 4 else { return nil }
            let quotedLength = Int(quotedFirst & 0x0F) * 4
            guard quotedLength >= 20, icmp.readableBytes >= quotedLength + 12,
                  icmp.getInteger(at: icmp.readerIndex + 9, as: UInt8.self) == 132,
                  let source = icmp.getInteger(at: icmp.readerIndex + 12, as: UInt32.self),
                  let destination = icmp.getInteger(at: icmp.readerIndex + 16, as: UInt32.self) else { return nil }
            icmp.moveReaderIndex(forwardBy: quotedLength)
            // Routers that predate RFC 1191 report 0: nothing to learn.
            guard nextHopMTU > 0 else { return nil }
            return (icmp, .v4(IPv4Address(rawValue: source)), .v4(IPv4Address(rawValue: destination)), Int(nextHopMTU) - 20)
        } else {
            guard icmp.readableBytes >= 8 + 40 + 12,
                  let (type, code) = icmp.getMultipleIntegers(at: icmp.readerIndex, as: (UInt8, UInt8).self),
                  type == 2, code == 0,
                  let mtu = icmp.getInteger(at: icmp.readerIndex + 4, as: UInt32.self) else { return nil }
            icmp.moveReaderIndex(forwardBy: 8)
            // The quoted IPv6 header, SCTP right after it (no extension headers on our packets).
            guard let version = icmp.getInteger(at: icmp.readerIndex, as: UInt8.self), version >> 4 == 6,
                  icmp.getInteger(at: icmp.readerIndex + 6, as: UInt8.self) == 132,
                  let (sourceHigh, sourceLow) = icmp.getMultipleIntegers(at: icmp.readerIndex + 8, as: (UInt64, UInt64).self),
                  let (destinationHigh, destinationLow) = icmp.getMultipleIntegers(at: icmp.readerIndex + 24, as: (UInt64, UInt64).self)
            else { return nil }
            icmp.moveReaderIndex(forwardBy: 40)
            guard mtu >= 1280, mtu <= 65_575 else { return nil }
            return (icmp, .v6(IPv6Address(high: sourceHigh, low: sourceLow)),
                    .v6(IPv6Address(high: destinationHigh, low: destinationLow)), Int(mtu) - 40)
        }
    }
    var offloadCounters: SCTPOffloadCounters { sockets.writer.counters }

    // MARK: Sockets

    func makeChannel(for address: IPAddress, handler: DatagramInboundHandler) -> EventLoopFuture<(any Channel, CInt?)> {
        guard let bootstrap = NIORawSocketBootstrap(validatingGroup: eventLoop) else {
            return eventLoop.makeFailedFuture(SCTPError(.notSupported, "raw sockets need a NIO event loop"))
        }
        var configured = bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        #if canImport(Glibc)
        if stack.options.pathMTUSockets {
            // Never fragmented by the kernel, whatever its PMTU cache says: probes larger than
            // the path are lost (or refused), which is what discovery measures.
            configured = address.isIPv4
                ? configured.channelOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_IP), name: SocketOptionName(IP_MTU_DISCOVER)),
                                           value: SocketOptionValue(IP_PMTUDISC_PROBE))
                : configured.channelOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(IPV6_MTU_DISCOVER)),
                                           value: SocketOptionValue(IPV6_PMTUDISC_PROBE))
        }
        #endif
        return configured
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
