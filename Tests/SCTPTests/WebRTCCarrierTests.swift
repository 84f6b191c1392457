import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SCTPCore
import SCTPWire
import Testing

/// Two carrier stacks joined in this process (the carrier a WebRTC user supplies: DTLS):
/// every datagram goes through `CarrierWire`, which records it and may alter it on the way.
final class CarrierWire: @unchecked Sendable {
    private let lock = NIOLock()
    private var stacks: [SCTPStack] = []
    private var recorded: [(from: Int, bytes: ByteBuffer)] = []
    /// Called under the lock for every datagram (sender index, bytes); may change the bytes.
    private var alter: ((Int, inout ByteBuffer) -> Void)?

    /// The two stacks, 0 and 1.
    let a: SCTPStack
    let b: SCTPStack

    init() {
        let box = NIOLockedValueBox<CarrierWire?>(nil)
        func output(from index: Int) -> @Sendable (SCTPCarrierPacket) -> Void {
            { packet in box.withLockedValue { $0 }?.carry(packet, from: index) }
        }
        a = SCTPStack(carrier: output(from: 0))
        b = SCTPStack(carrier: output(from: 1))
        stacks = [a, b]
        box.withLockedValue { $0 = self }
    }

    func close() {
        closeStack(a)
        closeStack(b)
    }

    func setAlter(_ change: @escaping (Int, inout ByteBuffer) -> Void) { lock.withLock { alter = change } }

    /// What was sent so far: (sender, bytes as they left the sender).
    var datagrams: [(from: Int, bytes: ByteBuffer)] { lock.withLock { recorded } }

    private func carry(_ packet: SCTPCarrierPacket, from index: Int) {
        var bytes = packet.bytes  // copied on write
        let target: SCTPStack = lock.withLock {
            recorded.append((index, bytes))
            alter?(index, &bytes)
            return stacks[1 - index]
        }
        target.receive(SCTPCarrierPacket(bytes: bytes, source: packet.source, destination: packet.destination))
    }
}

/// Closes a stack and waits for it (from synchronous code only).
func closeStack(_ stack: SCTPStack) { _ = try? stack.close().wait() }

/// A datagram as the wire saw it.
struct WireDatagram {
    var packet: SCTPPacket
    var checksum: UInt32
    var crc32c: UInt32
    var tsns: [TSN] { packet.chunks.compactMap { if case .data(let d) = $0 { d.tsn } else { nil } } }
    var types: [UInt8] { packet.chunks.map(\.type) }

    init(_ bytes: ByteBuffer) throws {
        packet = try SCTPPacket(parsing: bytes, checksum: .skipped)
        guard let stored = PacketChecksum.stored(bytes) else { throw SCTPError(.invalidArgument, "not an SCTP packet") }
        checksum = stored
        crc32c = PacketChecksum.compute(bytes)
    }
}

/// Issue 16 parts 4 and 5 over the carrier transport, live: the WebRTC INIT profile is the
/// carrier stacks' default, and zero checksum (RFC 9653) is negotiated when both sides say
/// their carrier detects errors.
@Suite("WebRTC over a carrier: INIT profile and zero checksum")
struct WebRTCCarrierTests {
    static let clientLabel = "127.0.0.1"
    static let serverLabel = "127.0.0.2"
    static let rto = SCTPRTOInfo(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .seconds(1))

    @Test("a carrier socket's INIT and INIT ACK carry only FORWARD-TSN and RE-CONFIG support; UDP sockets keep the full profile")
    func carrierDefaultsToWebRTCProfile() throws {
        let wire = CarrierWire()
        defer { wire.close() }
        let listener = try SCTPSocket.forTest(on: wire.b)
        #expect(try listener.getOption(.initProfile) == .webRTC)
        try listener.bind(address(Self.serverLabel, 5000))
        try listener.listen()
        let client = try SCTPSocket.forTest(on: wire.a)
        #expect(try client.getOption(.initProfile) == .webRTC)
        try client.bind(address(Self.clientLabel, 5000))
        let id = try client.connectx([address(Self.serverLabel, 5000)])
        let server = try listener.accept()
        defer {
            try? client.close()
            try? server.close()
            try? listener.close()
        }
        #expect(try client.getOption(.status, association: id).ecn == false)

        let sent = try wire.datagrams.map { try WireDatagram($0.bytes) }
        let initChunk = try #require(sent.lazy.compactMap { if case .initiation(let c) = $0.packet.chunks.first { c } else { nil } }.first)
        let ack = try #require(sent.lazy.compactMap { if case .initiationAck(let c) = $0.packet.chunks.first { c } else { nil } }.first)
        #expect(initChunk.parameters.parameters.map(\.type) == [ForwardTSNSupportedParameter.parameterType,
                                                                 SupportedExtensionsParameter.parameterType])
        #expect(ack.parameters.parameters.map(\.type) == [ForwardTSNSupportedParameter.parameterType,
                                                          SupportedExtensionsParameter.parameterType,
                                                          StateCookieParameter.parameterType])
        for chunk in [initChunk.parameters, ack.parameters] {
            let extensions = chunk.parameters.compactMap { if case .supportedExtensions(let p) = $0 { p.chunkTypes } else { nil } }
            #expect(extensions == [[ChunkType.forwardTSN, ChunkType.reconfig]])
        }
        // Data flows.
        try client.send(Array("over the carrier".utf8), info: SCTPSendInfo(stream: 1))
        #expect(String(buffer: try server.nextMessage().data) == "over the carrier")

        // A UDP stack's sockets announce everything; the profile is a socket option.
        let udp = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0))
        defer { _ = try? udp.close().wait() }
        let udpSocket = SCTPSocket(stack: udp)
        defer { try? udpSocket.close() }
        #expect(try udpSocket.getOption(.initProfile) == .full)
        try udpSocket.setOption(.initProfile, .webRTC)
        #expect(try udpSocket.getOption(.initProfile) == .webRTC)
    }

    /// Sets up an association with the async API (`acceptZeroChecksum` on each side), sends
    /// `count` messages from the client, each echoed by the server; returns whether each side
    /// uses zero checksums. `alter` changes datagrams on the wire.
    static func echo(wire: CarrierWire, clientMethod: UInt32, serverMethod: UInt32, count: Int) async throws -> (client: Bool, server: Bool) {
        let configure: @Sendable (SCTPSocket) throws -> Void = { socket in
            try socket.setOption(.rtoInfo, rto)
            try socket.setOption(.receiveTimeout, .seconds(15))
        }
        let listener = try SCTPListener.bind([address(serverLabel, 5000)], stack: wire.b, acceptZeroChecksum: serverMethod,
                                             configure: configure)
        defer { listener.close() }
        let association = try await SCTPAssociation.connect(to: [address(serverLabel, 5000)], from: [address(clientLabel, 0)],
                                                            stack: wire.a, acceptZeroChecksum: clientMethod, configure: configure)
        let accepted = try await listener.accept()
        defer {
            association.abort()
            accepted.abort()
        }
        for index in 0..<count {
            try await association.send(ByteBuffer(string: "message \(index)"), stream: UInt16(index % 3), payloadProtocolIdentifier: 51)
        }
        // The server echoes each message; the client checks them in order per stream.
        var serverMessages = accepted.messages.makeAsyncIterator()
        for _ in 0..<count {
            guard case .message(let message) = try await serverMessages.next() else { throw SCTPError(.ioError, "server: no message") }
            try await accepted.send(message.data, stream: message.info.stream, payloadProtocolIdentifier: 51)
        }
        var clientMessages = association.messages.makeAsyncIterator()
        var echoes: [String] = []
        for _ in 0..<count {
            guard case .message(let message) = try await clientMessages.next() else { throw SCTPError(.ioError, "client: no echo") }
            echoes.append(String(buffer: message.data))
        }
        for stream in 0..<3 {
            let expected = stride(from: stream, to: count, by: 3).map { "message \($0)" }
            #expect(echoes.filter { expected.contains($0) } == expected)
        }
        #expect(Set(echoes).count == count)
        return (try association.usesZeroChecksum, try accepted.usesZeroChecksum)
    }

    /// Damages the checksum of the first datagram with DATA that `sender` sends (writes
    /// `value` into the field) and returns the TSNs it carried.
    static func damageFirstData(_ wire: CarrierWire, sender: Int, value: UInt32) -> NIOLockedValueBox<[TSN]> {
        let damaged = NIOLockedValueBox<[TSN]>([])
        wire.setAlter { from, bytes in
            guard from == sender, damaged.withLockedValue({ $0.isEmpty }),
                  let datagram = try? WireDatagram(bytes), !datagram.tsns.isEmpty else { return }
            bytes.setInteger(value, at: bytes.readerIndex + 8, endianness: .little)
            damaged.withLockedValue { $0 = datagram.tsns }
        }
        return damaged
    }

    @Test("zero checksum over DTLS on both sides: packets go out with checksum 0 after the handshake; a wrong non-zero one is still dropped")
    func zeroChecksumNegotiated() async throws {
        let wire = CarrierWire()
        defer { wire.close() }
        let damaged = Self.damageFirstData(wire, sender: 0, value: 0x0BAD_C0DE)
        let dtls = ZeroChecksumAcceptableParameter.dtls
        let uses = try await Self.echo(wire: wire, clientMethod: dtls, serverMethod: dtls, count: 30)
        #expect(uses.client && uses.server)

        let sent = try wire.datagrams.map { (from: $0.from, datagram: try WireDatagram($0.bytes)) }
        let handshake: Set<UInt8> = [ChunkType.initiation, ChunkType.initiationAck, ChunkType.cookieEcho]
        var zeros = 0
        for (from, datagram) in sent {
            if datagram.types.contains(where: handshake.contains) {
                #expect(datagram.checksum == datagram.crc32c, "a handshake packet without its CRC32c: \(datagram.types)")
            } else {
                #expect(datagram.checksum == 0, "from \(from): \(datagram.types) with checksum \(datagram.checksum)")
                zeros += 1
            }
        }
        #expect(zeros > 30)
        // The datagram whose checksum the wire made wrong was dropped: its DATA went again.
        let lost = try #require(damaged.withLockedValue { $0 }.first)
        #expect(sent.filter { $0.from == 0 && $0.datagram.tsns.contains(lost) }.count >= 2)
    }

    @Test("zero checksum asked by one side only: every packet carries CRC32c, and a packet with checksum 0 is dropped")
    func zeroChecksumNotNegotiated() async throws {
        let wire = CarrierWire()
        defer { wire.close() }
        let damaged = Self.damageFirstData(wire, sender: 0, value: 0)
        let uses = try await Self.echo(wire: wire, clientMethod: ZeroChecksumAcceptableParameter.dtls, serverMethod: 0, count: 30)
        #expect(!uses.client && !uses.server)
        let sent = try wire.datagrams.map { (from: $0.from, datagram: try WireDatagram($0.bytes)) }
        for (_, datagram) in sent { #expect(datagram.checksum == datagram.crc32c, "\(datagram.types)") }
        // The server did not announce zero checksum: the DATA the wire zeroed was dropped and sent again.
        let lost = try #require(damaged.withLockedValue { $0 }.first)
        #expect(sent.filter { $0.from == 0 && $0.datagram.tsns.contains(lost) }.count >= 2)
    }

    @Test("SCTP_ACCEPT_ZERO_CHECKSUM: a method only on carrier stacks (EINVAL over UDP), 0 everywhere; the async API likewise")
    func zeroChecksumOption() async throws {
        let udp = SCTPStack(options: SCTPStack.Options(udpPort: 0, peerUDPPort: 0))
        defer { closeStack(udp) }
        let udpSocket = SCTPSocket(stack: udp)
        defer { try? udpSocket.close() }
        #expect(try udpSocket.getOption(.acceptZeroChecksum) == 0)
        #expect(throws: SCTPError.self) { try udpSocket.setOption(.acceptZeroChecksum, ZeroChecksumAcceptableParameter.dtls) }
        do {
            try udpSocket.setOption(.acceptZeroChecksum, ZeroChecksumAcceptableParameter.dtls)
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        try udpSocket.setOption(.acceptZeroChecksum, 0)
        #expect(try udpSocket.getOption(.acceptZeroChecksum) == 0)
        do {
            _ = try await SCTPAssociation.connect(to: [address("127.0.0.1", 9)], from: [address("127.0.0.1", 0)], stack: udp,
                                                  acceptZeroChecksum: ZeroChecksumAcceptableParameter.dtls)
            Issue.record("the async connect accepted zero checksum over UDP")
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        #expect(throws: SCTPError.self) {
            _ = try SCTPListener.bind([address("127.0.0.1", 0)], stack: udp, acceptZeroChecksum: 1)
        }

        let wire = CarrierWire()
        defer { wire.close() }
        let carrierSocket = SCTPSocket(stack: wire.a)
        defer { try? carrierSocket.close() }
        try carrierSocket.setOption(.acceptZeroChecksum, ZeroChecksumAcceptableParameter.dtls)
        #expect(try carrierSocket.getOption(.acceptZeroChecksum) == ZeroChecksumAcceptableParameter.dtls)
        try carrierSocket.setOption(.acceptZeroChecksum, 0)
        #expect(try carrierSocket.getOption(.acceptZeroChecksum) == 0)
    }
}
