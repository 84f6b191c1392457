import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Zero checksum (RFC 9653, issue 16 part 4) in the core: negotiated with Zero Checksum
/// Acceptable and its error detection method; INIT and COOKIE ECHO (and the endpoint's own
/// answers) always carry CRC32c; a zero checksum is accepted only on an association where we
/// announced it; a wrong non-zero checksum is always dropped.
@Suite("Zero checksum (RFC 9653)")
struct ZeroChecksumTests {
    typealias H = AssociationHarness

    /// Records every datagram a participant sends, as bytes (a zero checksum fails the usual
    /// parsing, so nothing is decoded here).
    final class ByteTap: ForwardingParticipant {
        let inner: EndpointParticipant
        private(set) var sent: [ByteBuffer] = []
        init(_ inner: EndpointParticipant) { self.inner = inner }
        func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
            guard let outgoing = inner.pollTransmit(now: now) else { return nil }
            sent.append(outgoing.datagram)
            return outgoing
        }
    }

    /// A sent packet: its chunks' types and how its checksum field is filled.
    struct Seen: Equatable, CustomStringConvertible {
        var chunkTypes: [UInt8]
        var checksum: Kind
        enum Kind { case crc32c, zero, wrong }
        var description: String { "\(chunkTypes):\(checksum)" }
        var chunkType: UInt8 { chunkTypes.first ?? 0xFF }
        init(chunkTypes: [UInt8], checksum: Kind) {
            self.chunkTypes = chunkTypes
            self.checksum = checksum
        }
        init(chunkType: UInt8, checksum: Kind) { self.init(chunkTypes: [chunkType], checksum: checksum) }
    }

    static func seen(_ datagram: ByteBuffer) throws -> Seen {
        let packet = try SCTPPacket(parsing: datagram, checksum: .skipped)
        let stored = try #require(PacketChecksum.stored(datagram))
        let kind: Seen.Kind = stored == PacketChecksum.compute(datagram) ? .crc32c : stored == 0 ? .zero : .wrong
        return Seen(chunkTypes: packet.chunks.map(\.type), checksum: kind)
    }

    static func configuration(method: UInt32?) -> SCTPConfiguration {
        var configuration = SCTPConfiguration()
        configuration.zeroChecksumMethod = method
        configuration.initProfile = .webRTC
        return configuration
    }

    /// Two endpoints with these methods: connects, sends 20 messages each way, shuts down;
    /// returns what each side sent and whether each side's association used zero checksums.
    static func exchange(client: UInt32?, server: UInt32?, seed: UInt64) throws
        -> (client: [Seen], server: [Seen], clientZero: Bool, serverZero: Bool)
    {
        let h = H(seed: seed, clientConfiguration: configuration(method: client), serverConfiguration: configuration(method: server))
        let taps = (client: ByteTap(h.client), server: ByteTap(h.server))
        h.loop.participants = [taps.client, taps.server]
        let id = try h.connect()
        #expect(h.run { H.upEvents(h.client).count == 1 && H.upEvents(h.server).count == 1 })
        let serverID = try #require(H.upEvents(h.server).first)
        let clientZero = try #require(h.client.endpoint.status(of: id)).zeroChecksum
        let serverZero = try #require(h.server.endpoint.status(of: serverID)).zeroChecksum
        for index in 0..<20 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 1, payload: testPayload(stream: 1, index: index, length: 300)),
                                       on: id, now: h.now)
            try h.server.endpoint.send(OutgoingMessage(streamIdentifier: 2, payload: testPayload(stream: 2, index: index, length: 300)),
                                       on: serverID, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.client).count == 20 && H.messages(h.server).count == 20 })
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.shutdownCompleted(h.client) && H.shutdownCompleted(h.server) })
        return (try taps.client.sent.map(seen), try taps.server.sent.map(seen), clientZero, serverZero)
    }

    @Test("both sides over DTLS: everything but INIT, INIT ACK and COOKIE ECHO goes with a zero checksum, both ways")
    func negotiated() throws {
        let dtls = ZeroChecksumAcceptableParameter.dtls
        let run = try Self.exchange(client: dtls, server: dtls, seed: 4)
        #expect(run.clientZero && run.serverZero)
        let handshake: Set<UInt8> = [ChunkType.initiation, ChunkType.initiationAck, ChunkType.cookieEcho]
        for seen in run.client + run.server {
            #expect(seen.checksum == (seen.chunkTypes.contains(where: handshake.contains) ? .crc32c : .zero), "\(seen)")
        }
        // The client's INIT and COOKIE ECHO, the server's INIT ACK are there; DATA went with zero both ways.
        func sent(_ list: [Seen], _ type: UInt8, _ checksum: Seen.Kind) -> Bool {
            list.contains { $0.chunkTypes.contains(type) && $0.checksum == checksum }
        }
        #expect(sent(run.client, ChunkType.initiation, .crc32c))
        #expect(sent(run.client, ChunkType.cookieEcho, .crc32c))
        #expect(sent(run.server, ChunkType.initiationAck, .crc32c))
        #expect(sent(run.server, ChunkType.cookieAck, .zero))
        #expect(sent(run.client, ChunkType.data, .zero))
        #expect(sent(run.server, ChunkType.data, .zero))
        #expect(sent(run.client, ChunkType.shutdown, .zero))
    }

    @Test("RFC 9653 §5.2: the INIT sent again after a Stale Cookie error carries CRC32c, though the INIT ACK agreed on zero checksums")
    func staleCookieInitCarriesCRC32c() throws {
        var server = Self.configuration(method: 1)
        // The cookie goes stale on the way: 50 ms of life, 100 ms each way.
        server.validCookieLife = .milliseconds(50)
        let h = H(seed: 61, conditions: LinkConditions(delay: .milliseconds(100)),
                  clientConfiguration: Self.configuration(method: 1), serverConfiguration: server)
        let taps = (client: ByteTap(h.client), server: ByteTap(h.server))
        h.loop.participants = [taps.client, taps.server]
        _ = try h.connect()
        func clientSent() -> [Seen] { taps.client.sent.compactMap { try? Self.seen($0) } }
        #expect(h.run(for: .seconds(5)) { clientSent().filter { $0.chunkType == ChunkType.initiation }.count >= 2 })
        let sent = clientSent()
        let firstEcho = try #require(sent.firstIndex { $0.chunkType == ChunkType.cookieEcho })
        let resent = try #require(sent.indices.first { $0 > firstEcho && sent[$0].chunkType == ChunkType.initiation },
                                  "no INIT after the COOKIE ECHO: \(sent)")
        #expect(sent[resent].checksum == .crc32c, "the INIT after the Stale Cookie error: \(sent)")
        #expect(sent.filter { $0.chunkType == ChunkType.initiation }.allSatisfy { $0.checksum == .crc32c })
        // What made the client start again: the server's Stale Cookie error (an ERROR chunk).
        let serverSent = taps.server.sent.compactMap { try? Self.seen($0) }
        #expect(serverSent.contains { $0.chunkType == ChunkType.error })
    }

    @Test("not negotiated (one side only, or different methods): every packet carries CRC32c")
    func notNegotiated() throws {
        for (client, server, seed) in [(UInt32?.some(1), UInt32?.none, UInt64(5)), (nil, 1, 6), (1, 2, 7)] {
            let run = try Self.exchange(client: client, server: server, seed: seed)
            #expect(!run.clientZero && !run.serverZero, "client \(String(describing: client)), server \(String(describing: server))")
            for seen in run.client + run.server { #expect(seen.checksum == .crc32c, "\(seen)") }
        }
    }

    /// Up association with the given methods; returns the harness, the server's association
    /// and a tap on the server.
    static func established(client: UInt32?, server: UInt32?, seed: UInt64) throws -> (H, Association, WireTap, ByteTap) {
        let h = H(seed: seed, clientConfiguration: configuration(method: client), serverConfiguration: configuration(method: server))
        let serverTap = ByteTap(h.server)
        let clientTap = WireTap(h.client)
        h.loop.participants = [clientTap, serverTap]
        _ = try h.connect()
        #expect(h.run { H.upEvents(h.client).count == 1 && H.upEvents(h.server).count == 1 })
        let serverID = try #require(H.upEvents(h.server).first)
        let association = try #require(h.server.endpoint.associations[serverID])
        return (h, association, clientTap, serverTap)
    }

    /// A HEARTBEAT from the client's address to the server's association, its checksum field
    /// filled as `kind` says.
    static func heartbeat(to association: Association, kind: Seen.Kind) -> ByteBuffer {
        let chunk = Chunk.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: ByteBuffer(bytes: [9, 9, 9, 9]))))
        let packet = SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort,
                                                     verificationTag: association.localTag), chunks: [chunk])
        var datagram = packet.serialized(checksum: kind == .crc32c ? .crc32c : .zero)
        if kind == .wrong { datagram.setInteger(UInt32(0xDEAD_BEEF), at: 8, endianness: .little) }
        return datagram
    }

    /// Whether the server answers the datagram (a HEARTBEAT ACK, or anything).
    static func answered(_ datagram: ByteBuffer, _ h: H, _ tap: ByteTap) -> Bool {
        let before = tap.sent.count
        h.server.receive(Delivery(datagram: datagram, from: h.client.addresses[0], to: h.server.addresses[0], time: h.now,
                                  sentAt: h.now), now: h.now)
        h.loop.flushTransmits()
        return tap.sent.count > before
    }

    @Test("an endpoint that does not accept zero checksums drops a COOKIE ECHO with zero, takes it with CRC32c")
    func cookieEchoWithoutZeroChecksum() throws {
        let (h, _, _, tap) = try Self.established(client: 1, server: nil, seed: 12)
        let newPeer = IPAddress.v4(IPv4Address(10, 0, 0, 9))
        func deliver(_ datagram: ByteBuffer) -> Bool {
            let before = tap.sent.count
            h.server.receive(Delivery(datagram: datagram, from: newPeer, to: h.server.addresses[0], time: h.now, sentAt: h.now),
                             now: h.now)
            h.loop.flushTransmits()
            return tap.sent.count > before
        }
        let initChunk = InitChunk(initiateTag: 0x0BAD_0002, advertisedReceiverWindowCredit: 65_536, outboundStreams: 1,
                                  inboundStreams: 1, initialTSN: TSN(1), parameters: ParameterList([]))
        #expect(deliver(SCTPPacket(header: CommonHeader(sourcePort: 7002, destinationPort: H.serverPort, verificationTag: 0),
                                   chunks: [.initiation(initChunk)]).serialized()))
        let ack = try SCTPPacket(parsing: try #require(tap.sent.last))
        guard case .initiationAck(let initAck) = ack.chunks.first else { Issue.record("no INIT ACK"); return }
        let echo = SCTPPacket(header: CommonHeader(sourcePort: 7002, destinationPort: H.serverPort, verificationTag: initAck.initiateTag),
                              chunks: [.cookieEcho(CookieEchoChunk(cookie: try #require(initAck.stateCookie)))])
        #expect(!deliver(echo.serialized(checksum: .zero)))
        #expect(deliver(echo.serialized()))
    }

    @Test("a zero checksum is accepted where we announced it, dropped elsewhere; a wrong one always dropped")
    func receiveRules() throws {
        // We announced it (the peer too): zero accepted.
        let (h, association, _, tap) = try Self.established(client: 1, server: 1, seed: 8)
        #expect(Self.answered(Self.heartbeat(to: association, kind: .zero), h, tap))
        #expect(Self.answered(Self.heartbeat(to: association, kind: .crc32c), h, tap))
        #expect(!Self.answered(Self.heartbeat(to: association, kind: .wrong), h, tap))

        // We announced it, the peer did not: RFC 9653 §5.3, we accept it all the same.
        let (h2, association2, _, tap2) = try Self.established(client: nil, server: 1, seed: 9)
        #expect(Self.answered(Self.heartbeat(to: association2, kind: .zero), h2, tap2))

        // Not announced by us (the peer did): zero dropped, CRC32c accepted.
        let (h3, association3, _, tap3) = try Self.established(client: 1, server: nil, seed: 10)
        #expect(!Self.answered(Self.heartbeat(to: association3, kind: .zero), h3, tap3))
        #expect(!Self.answered(Self.heartbeat(to: association3, kind: .wrong), h3, tap3))
        #expect(Self.answered(Self.heartbeat(to: association3, kind: .crc32c), h3, tap3))
        // Nothing of this ended the associations.
        #expect(association.state == .established && association2.state == .established && association3.state == .established)
    }

    @Test("an INIT or an out-of-the-blue packet with a zero checksum is dropped even by an endpoint that accepts zero; a COOKIE ECHO is taken")
    func zeroWithoutAssociation() throws {
        let (h, _, _, tap) = try Self.established(client: 1, server: 1, seed: 11)
        let newPeer = IPAddress.v4(IPv4Address(10, 0, 0, 9))
        let initChunk = InitChunk(initiateTag: 0x0BAD_0001, advertisedReceiverWindowCredit: 65_536, outboundStreams: 1,
                                  inboundStreams: 1, initialTSN: TSN(1), parameters: ParameterList([]))
        let initPacket = SCTPPacket(header: CommonHeader(sourcePort: 7000, destinationPort: H.serverPort, verificationTag: 0),
                                    chunks: [.initiation(initChunk)])
        func deliver(_ datagram: ByteBuffer) -> Bool {
            let before = tap.sent.count
            h.server.receive(Delivery(datagram: datagram, from: newPeer, to: h.server.addresses[0], time: h.now, sentAt: h.now),
                             now: h.now)
            h.loop.flushTransmits()
            return tap.sent.count > before
        }
        #expect(!deliver(initPacket.serialized(checksum: .zero)))
        #expect(deliver(initPacket.serialized()))  // the same with its CRC32c: INIT ACK
        // A COOKIE ECHO should carry CRC32c too, but one with zero is taken: our INIT ACK
        // announced zero checksum, and the cookie is authenticated.
        let ack = try SCTPPacket(parsing: try #require(tap.sent.last), checksum: .skipped)
        guard case .initiationAck(let initAck) = ack.chunks.first else { Issue.record("no INIT ACK"); return }
        let echo = SCTPPacket(header: CommonHeader(sourcePort: 7000, destinationPort: H.serverPort, verificationTag: initAck.initiateTag),
                              chunks: [.cookieEcho(CookieEchoChunk(cookie: try #require(initAck.stateCookie)))])
        #expect(deliver(echo.serialized(checksum: .zero)))
        #expect(try Self.seen(try #require(tap.sent.last)).chunkTypes == [ChunkType.cookieAck])
        // Out of the blue (an ABORT-worthy DATA for no association): no answer with zero.
        let data = Chunk.data(DataChunk(flags: .complete, tsn: TSN(5), streamIdentifier: 0, ssn: SSN(0),
                                        payloadProtocolIdentifier: 0, payload: ByteBuffer(bytes: [1])))
        let ootb = SCTPPacket(header: CommonHeader(sourcePort: 7001, destinationPort: H.serverPort, verificationTag: 0x1234_5678),
                              chunks: [data])
        #expect(!deliver(ootb.serialized(checksum: .zero)))
        // With CRC32c it is answered (ABORT, §8.4), and that answer carries CRC32c.
        #expect(deliver(ootb.serialized()))
        #expect(try Self.seen(try #require(tap.sent.last)) == Seen(chunkType: ChunkType.abort, checksum: .crc32c))
    }
}
