import Foundation
import NIOCore
import NIOPosix
import SCTP
import SCTPCore
import SCTPWire
import Testing

/// The UDP driver must not advertise a receive window its socket cannot hold: a peer filling
/// the window would overrun the socket, and the kernel's drops look like loss (measured on
/// loopback: 4 MiB advertised over an 8 MiB socket lost 10–20 % of the packets of a two-way
/// transfer; a window of an eighth of the socket buffer lost none).
@Suite("UDP driver: receive window fits the socket buffer")
struct ReceiveWindowTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    func start(window: Int) throws -> UDPEncapsulationEndpoint {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1"])
        options.udpPort = 0
        options.configuration.receiveBufferSize = window
        return try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { _ in })
    }

    @Test("a window larger than the socket can hold is lowered to an eighth of SO_RCVBUF")
    func lowered() throws {
        let endpoint = try start(window: 1 << 30)
        defer { _ = try? wait(endpoint.close()) }
        let window = endpoint.effectiveConfiguration.receiveBufferSize
        #expect(window < 1 << 30)
        #expect(window >= 16 << 10)
        #expect(endpoint.options.configuration.receiveBufferSize == 1 << 30, "the options keep what was asked")
    }

    @Test("a window the socket can hold is kept")
    func kept() throws {
        let endpoint = try start(window: 16 << 10)
        defer { _ = try? wait(endpoint.close()) }
        #expect(endpoint.effectiveConfiguration.receiveBufferSize == 16 << 10)
    }

    @Test("the rule: an eighth of the socket buffer, at least 16 KiB")
    func rule() {
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 8 << 20) == 1 << 20)
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 425_984) == 53_248)
        #expect(SCTPStack.receiveWindow(forSocketBuffer: 4096) == 16 << 10)
    }
}

/// Collects the SCTP packets a plain UDP socket receives, for a test playing the peer by hand.
final class PacketInbox: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let lock = NSLock()
    private var packets: [SCTPPacket] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let packet = try? SCTPPacket(parsing: envelope.data) else { return }
        lock.withLock { packets.append(packet) }
    }

    /// Waits until a received chunk matches (consuming every packet up to it), or the deadline.
    func next<T>(seconds: Double = 5, _ match: (Chunk) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let found: T? = lock.withLock {
                while !packets.isEmpty {
                    let packet = packets.removeFirst()
                    for chunk in packet.chunks { if let value = match(chunk) { return value } }
                }
                return nil
            }
            if let found { return found }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return nil
    }
}

/// A window-update SACK made while the driver reports events (a delivered message counts as
/// read when its handler returns) must go out at once, not with the next datagram: a sender
/// that waits for it (usrsctp probes a closed window only when its T3-rtx expires) stalls.
@Suite("UDP driver: window updates made while reporting events go out at once")
struct WindowUpdateTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    @Test("a message that nearly fills the window: SACK with the small window, then the window update, with no more DATA")
    func windowUpdateAfterDelivery() throws {
        var options = UDPEncapsulationEndpoint.Options(sctpPort: 5001, localAddresses: ["127.0.0.1"])
        options.udpPort = 0
        options.acceptsAssociations = true
        options.configuration.receiveBufferSize = 16 << 10
        let server = try wait(UDPEncapsulationEndpoint.start(options: options, on: Self.group.next()) { _ in })
        defer { _ = try? wait(server.close()) }
        let window = server.effectiveConfiguration.receiveBufferSize

        // The peer, by hand, on a plain UDP socket.
        let inbox = PacketInbox()
        let peer = try DatagramBootstrap(group: Self.group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbox) } }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { _ = try? peer.close().wait() }
        let serverAddress = try SocketAddress(ipAddress: "127.0.0.1", port: server.localUDPPort)
        func send(_ tag: UInt32, _ chunks: [Chunk]) throws {
            let packet = SCTPPacket(header: CommonHeader(sourcePort: 5002, destinationPort: 5001, verificationTag: tag), chunks: chunks)
            try peer.writeAndFlush(AddressedEnvelope(remoteAddress: serverAddress, data: packet.serialized())).wait()
        }

        let initChunk = InitChunk(initiateTag: 0x1234_5678, advertisedReceiverWindowCredit: 1 << 20, outboundStreams: 1,
                                  inboundStreams: 1, initialTSN: TSN(100), parameters: ParameterList([]))
        try send(0, [.initiation(initChunk)])
        let ack = try #require(inbox.next { if case .initiationAck(let a) = $0 { a } else { nil } })
        try send(ack.initiateTag, [.cookieEcho(CookieEchoChunk(cookie: try #require(ack.stateCookie)))])
        #expect(inbox.next { if case .cookieAck = $0 { true } else { nil } } == true)

        // One message in two fragments that leaves less than a packet of window: SACKed at
        // once (small window). (Fragments, as the driver reads datagrams of up to 9216 bytes.)
        let half = (window - 1000) / 2
        for (index, flags) in [DataFlags.beginning, .ending].enumerated() {
            let fragment = DataChunk(flags: flags, tsn: TSN(100 + UInt32(index)), streamIdentifier: 0, ssn: SSN(0),
                                     payloadProtocolIdentifier: 0, payload: ByteBuffer(repeating: 0xAB, count: half))
            try send(ack.initiateTag, [.data(fragment)])
        }
        let first = try #require(inbox.next { if case .sack(let s) = $0, s.cumulativeTSNAck == TSN(101) { s } else { nil } })
        #expect(first.advertisedReceiverWindowCredit < 2000)
        // The application read it: the window update follows by itself, no DATA needed.
        let update = try #require(inbox.next(seconds: 3) { if case .sack(let s) = $0 { s } else { nil } },
                                  "no window-update SACK: it waited in the driver for the next datagram")
        #expect(update.advertisedReceiverWindowCredit == UInt32(window))
    }
}
