import Crypto
import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// A participant that logs the chunks of every packet it sends and may change or drop them
/// (`tamper` returns the packet to send, or `nil` to drop it).
final class TamperingParticipant: ForwardingParticipant {
    let inner: EndpointParticipant
    var tamper: ((SCTPPacket) -> SCTPPacket?)?
    private(set) var sent: [[Chunk]] = []
    private(set) var sizes: [Int] = []

    init(_ inner: EndpointParticipant) { self.inner = inner }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        while var outgoing = inner.pollTransmit(now: now) {
            guard let packet = try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped) else { return outgoing }
            sent.append(packet.chunks)
            sizes.append(outgoing.datagram.readableBytes)
            guard let tamper else { return outgoing }
            guard let changed = tamper(packet) else { continue }
            if changed != packet { outgoing.datagram = changed.serialized() }
            return outgoing
        }
        return nil
    }
}

/// Chunk authentication (RFC 4895) between two of our endpoints on virtual time.
@Suite("AUTH (RFC 4895)")
struct AuthenticationTests {
    typealias H = AssociationHarness

    /// A configuration that asks the peer to authenticate `chunks`, with shared key 0 = `key`.
    static func configuration(chunks: [UInt8] = [], key: [UInt8] = [], hmacs: [SCTPHMACAlgorithm] = [.sha256, .sha1]) -> SCTPConfiguration {
        var c = SCTPConfiguration()
        c.authentication.chunkTypes = chunks
        c.authentication.keys = [0: key]
        c.authentication.hmacAlgorithms = hmacs
        return c
    }

    /// A harness whose client's and server's packets go through tampering wrappers.
    static func harness(seed: UInt64, client: SCTPConfiguration, server: SCTPConfiguration)
        -> (H, TamperingParticipant, TamperingParticipant) {
        let h = H(seed: seed, clientConfiguration: client, serverConfiguration: server)
        let c = TamperingParticipant(h.client), s = TamperingParticipant(h.server)
        h.loop = SimulationLoop(clock: VirtualClock(), network: h.loop.network, participants: [c, s])
        return (h, c, s)
    }

    static func send(_ h: H, _ p: EndpointParticipant, _ id: AssociationID, index: Int, length: Int = 300) throws {
        try p.endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: UInt32(index),
                                            payload: testPayload(stream: 0, index: index, length: length)), on: id, now: h.now)
    }

    static func established(_ h: H) throws -> (AssociationID, AssociationID) {
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        return (id, try #require(H.upEvents(h.server).first))
    }

    static func authEvents(_ p: EndpointParticipant) -> [AuthenticationEvent] {
        p.events.compactMap { if case .authentication(_, let e) = $0.event { e } else { nil } }
    }

    /// Whether every packet holding a chunk of `types` has an AUTH chunk before the first of them.
    static func authenticatedWhereAsked(_ packets: [[Chunk]], types: Set<UInt8>) -> Bool {
        packets.allSatisfy { chunks in
            guard let first = chunks.firstIndex(where: { types.contains($0.type) }) else { return true }
            return chunks[..<first].contains { if case .auth = $0 { true } else { false } }
        }
    }

    static func flipHMAC(_ packet: SCTPPacket) -> SCTPPacket {
        var changed = packet
        changed.chunks = packet.chunks.map { chunk in
            guard case .auth(var auth) = chunk else { return chunk }
            var bytes = Array(auth.hmac.readableBytesView)
            bytes[0] ^= 0x01
            auth.hmac = ByteBuffer(bytes: bytes)
            return .auth(auth)
        }
        return changed
    }

    static func withoutAuth(_ packet: SCTPPacket) -> SCTPPacket {
        var changed = packet
        changed.chunks = packet.chunks.filter { if case .auth = $0 { false } else { true } }
        return changed
    }

    // MARK: §3, §6.1 negotiation

    @Test("§6.1: INIT and INIT ACK carry a 32-byte RANDOM, CHUNKS, HMAC-ALGO with SHA-1 and AUTH in Supported Extensions; both roles learn the peer's list")
    func negotiation() throws {
        let (h, c, s) = Self.harness(seed: 1, client: Self.configuration(chunks: [ChunkType.sack]),
                                     server: Self.configuration(chunks: [ChunkType.data, ChunkType.sack]))
        let (id, serverID) = try Self.established(h)
        let initChunk = try #require(c.sent.lazy.compactMap { $0.first.flatMap { if case .initiation(let i) = $0 { i } else { nil } } }.first)
        let ack = try #require(s.sent.lazy.compactMap { $0.first.flatMap { if case .initiationAck(let a) = $0 { a } else { nil } } }.first)
        for parameters in [initChunk.parameters, ack.parameters] {
            let random = parameters.parameters.lazy.compactMap { if case .random(let r) = $0 { r } else { nil } }.first
            #expect(random?.random.readableBytes == 32)
            let hmacs = parameters.parameters.lazy.compactMap { if case .requestedHMACAlgorithm(let p) = $0 { p } else { nil } }.first
            #expect(hmacs?.hmacIdentifiers == [3, 1])
            let extensions = parameters.parameters.lazy.compactMap { if case .supportedExtensions(let p) = $0 { p } else { nil } }.first
            #expect(extensions?.chunkTypes.contains(ChunkType.auth) == true)
        }
        #expect(h.client.endpoint.isAuthenticationNegotiated(on: id))
        #expect(h.server.endpoint.isAuthenticationNegotiated(on: serverID))
        // SACK asked for brings NR-SACK, which takes its place (both announce NR-SACK).
        #expect(try h.client.endpoint.peerAuthenticatedChunks(on: id) == [ChunkType.data, ChunkType.sack, ChunkType.nrSack])
        #expect(try h.server.endpoint.peerAuthenticatedChunks(on: serverID) == [ChunkType.sack, ChunkType.nrSack])
        #expect(try h.server.endpoint.localAuthenticatedChunks(on: serverID) == [ChunkType.data, ChunkType.sack, ChunkType.nrSack])
        #expect(Self.authEvents(h.client).isEmpty)
    }

    @Test("§6.1: a peer without AUTH: nothing is authenticated, data flows, SCTP_AUTH_NO_AUTH is reported")
    func absence() throws {
        var off = Self.configuration()
        off.authentication.enabled = false
        let (h, c, s) = Self.harness(seed: 2, client: Self.configuration(chunks: [ChunkType.data]), server: off)
        let (id, serverID) = try Self.established(h)
        #expect(!h.client.endpoint.isAuthenticationNegotiated(on: id))
        #expect(!h.server.endpoint.isAuthenticationNegotiated(on: serverID))
        #expect(Self.authEvents(h.client) == [AuthenticationEvent(indication: .noAuthentication, keyNumber: 0)])
        for index in 0..<5 { try Self.send(h, h.server, serverID, index: index) }
        #expect(h.run { H.messages(h.client).count == 5 })
        let all = c.sent + s.sent
        #expect(!all.joined().contains { if case .auth = $0 { true } else { false } })
        let serverInit = s.sent.lazy.compactMap { $0.first.flatMap { if case .initiationAck(let a) = $0 { a } else { nil } } }.first
        #expect(serverInit?.parameters.parameters.contains { if case .random = $0 { true } else { false } } == false)
    }

    @Test("§6.1: the webRTC profile does not announce AUTH")
    func webRTCProfile() throws {
        var c = SCTPConfiguration()
        c.initProfile = .webRTC
        #expect(!c.announcesAuthentication)
    }

    // MARK: §6.2, §6.3 sending and receiving

    @Test("§6.2: DATA and SACK authenticated both ways (HMAC-SHA-256 and SHA-1); AUTH precedes them; packets stay within the MTU")
    func dataAndSack() throws {
        for (seed, hmacs) in [(UInt64(3), [SCTPHMACAlgorithm.sha256, .sha1]), (4, [.sha1])] {
            let config = Self.configuration(chunks: [ChunkType.data, ChunkType.sack], key: Array("secret".utf8), hmacs: hmacs)
            let (h, c, s) = Self.harness(seed: seed, client: config, server: config)
            let (id, serverID) = try Self.established(h)
            for index in 0..<20 { try Self.send(h, h.client, id, index: index, length: 100 + index * 400) }
            for index in 0..<10 { try Self.send(h, h.server, serverID, index: index, length: 3000) }
            #expect(h.run { H.messages(h.server).count == 20 && H.messages(h.client).count == 10 })
            #expect(H.messages(h.server).map(\.payloadProtocolIdentifier) == Array(0..<20))
            for (index, message) in H.messages(h.server).enumerated() {
                #expect(message.payload == testPayload(stream: 0, index: index, length: 100 + index * 400))
            }
            let types: Set<UInt8> = [ChunkType.data, ChunkType.sack]
            #expect(Self.authenticatedWhereAsked(c.sent, types: types))
            #expect(Self.authenticatedWhereAsked(s.sent, types: types))
            #expect((c.sizes + s.sizes).allSatisfy { $0 <= 1200 })
            let algorithm = hmacs.first!.rawValue
            #expect(c.sent.joined().contains { if case .auth(let a) = $0 { a.hmacIdentifier == algorithm } else { false } })
            #expect(h.server.endpoint.authenticationCounters(on: serverID)?.refusedPackets == 0)
        }
    }

    @Test("§6.3: a tampered HMAC discards the chunks after AUTH; retransmissions with good MACs deliver each message once")
    func tamperedHMAC() throws {
        let config = Self.configuration(chunks: [ChunkType.data], key: [1, 2, 3])
        let (h, c, _) = Self.harness(seed: 5, client: config, server: config)
        let (id, serverID) = try Self.established(h)
        c.tamper = { Self.flipHMAC($0) }
        for index in 0..<5 { try Self.send(h, h.client, id, index: index) }
        h.run(for: .seconds(2)) { false }
        #expect(H.messages(h.server).isEmpty)
        #expect((h.server.endpoint.authenticationCounters(on: serverID)?.refusedPackets ?? 0) > 0)
        c.tamper = nil
        #expect(h.run { H.messages(h.server).count == 5 })
        h.run(for: .seconds(5)) { false }
        #expect(H.messages(h.server).map(\.payloadProtocolIdentifier) == [0, 1, 2, 3, 4])
    }

    @Test("§6.3: with a different shared key nothing is delivered")
    func wrongKey() throws {
        let (h, _, _) = Self.harness(seed: 6, client: Self.configuration(chunks: [ChunkType.data], key: Array("right".utf8)),
                                     server: Self.configuration(chunks: [ChunkType.data], key: Array("wrong".utf8)))
        let (id, serverID) = try Self.established(h)
        for index in 0..<5 { try Self.send(h, h.client, id, index: index) }
        h.run(for: .seconds(30)) { false }
        #expect(H.messages(h.server).isEmpty)
        #expect((h.server.endpoint.authenticationCounters(on: serverID)?.refusedPackets ?? 0) > 0)
    }

    @Test("§6.3: an unknown key id is discarded; an unsupported HMAC identifier is answered with its error cause")
    func unknownKeyAndHMAC() throws {
        var client = Self.configuration(chunks: [ChunkType.data])
        client.authentication.keys[7] = [9, 9]
        client.authentication.activeKey = 7
        let (h, c, s) = Self.harness(seed: 7, client: client, server: Self.configuration(chunks: [ChunkType.data]))
        let (id, serverID) = try Self.established(h)
        for index in 0..<3 { try Self.send(h, h.client, id, index: index) }
        h.run(for: .seconds(3)) { false }
        #expect(H.messages(h.server).isEmpty)
        // Back to key 0: delivered.
        try h.client.endpoint.setActiveAuthenticationKey(0, on: id)
        #expect(h.run { H.messages(h.server).count == 3 })
        // HMAC identifier 2 (not one we announced): ERROR with Unsupported HMAC Identifier.
        c.tamper = { packet in
            var changed = packet
            changed.chunks = packet.chunks.map { chunk in
                guard case .auth(var auth) = chunk else { return chunk }
                auth.hmacIdentifier = 2
                return .auth(auth)
            }
            return changed
        }
        try Self.send(h, h.client, id, index: 3)
        #expect(h.run(for: .seconds(5)) {
            s.sent.joined().contains {
                if case .error(let e) = $0 {
                    e.causes.contains { if case .unsupportedHMACIdentifier(let u) = $0 { u.hmacIdentifier == 2 } else { false } }
                } else { false }
            }
        })
        #expect(H.messages(h.server).count == 3)
        _ = serverID
    }

    @Test("§6.1: the active key changes while data flows; the peer reports the new key, the old one is freed")
    func keyChange() throws {
        var config = Self.configuration(chunks: [ChunkType.data, ChunkType.sack])
        config.authentication.keys = [0: [], 1: Array("one".utf8), 2: Array("two".utf8)]
        config.authentication.activeKey = 1
        let (h, _, _) = Self.harness(seed: 8, client: config, server: config)
        let (id, _) = try Self.established(h)
        for index in 0..<40 { try Self.send(h, h.client, id, index: index, length: 1000) }
        h.run(for: .milliseconds(30)) { false }
        try h.client.endpoint.setActiveAuthenticationKey(2, on: id)
        try h.client.endpoint.deactivateAuthenticationKey(1, on: id)
        #expect(throws: CoreError.self) { try h.client.endpoint.deleteAuthenticationKey(2, on: id) }
        #expect(throws: CoreError.self) { try h.client.endpoint.setActiveAuthenticationKey(1, on: id) }
        for index in 40..<60 { try Self.send(h, h.client, id, index: index, length: 1000) }
        #expect(h.run { H.messages(h.server).count == 60 })
        #expect(H.messages(h.server).map(\.payloadProtocolIdentifier) == Array(0..<60))
        #expect(Self.authEvents(h.server).contains(AuthenticationEvent(indication: .newKey, keyNumber: 2)))
        #expect(Self.authEvents(h.client).contains(AuthenticationEvent(indication: .freeKey, keyNumber: 1)))
        try h.client.endpoint.deleteAuthenticationKey(1, on: id)
    }

    @Test("§6.3: COOKIE ECHO bundled with authenticated DATA, AUTH after or before the COOKIE ECHO, is verified under the cookie's keys")
    func cookieEcho() throws {
        for authFirst in [false, true] {
            let (h, c, _) = Self.harness(seed: 9, client: Self.configuration(key: [5]),
                                         server: Self.configuration(chunks: [ChunkType.data], key: [5]))
            // The client's own COOKIE ECHO is kept back; one bundled with DATA goes instead.
            var echo: CookieEchoChunk?
            c.tamper = { packet in
                if case .cookieEcho(let e) = packet.chunks.first, echo == nil {
                    echo = e
                    return nil
                }
                return packet
            }
            let id = try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
            #expect(h.run(for: .seconds(1)) { echo != nil })
            let association = try #require(h.client.endpoint.association(id))
            var authenticator = try #require(association.packetAuthenticator())
            #expect(authenticator.chunks.contains(ChunkType.data))
            if authFirst {
                authenticator = PacketAuthenticator(chunks: ChunkTypeSet([ChunkType.cookieEcho, ChunkType.data]),
                                                    keyID: authenticator.keyID, mac: try #require(association.senderMAC()))
            }
            var builder = PacketBuilder(header: association.commonHeader, mtu: 1200, destination: h.server.addresses[0],
                                        checksum: .crc32c)
            builder.authenticator = authenticator
            // A builder of our own: the association supplies the MAC only to its own.
            builder.supplyMAC(association.senderMAC())
            builder.add(.cookieEcho(try #require(echo)))
            builder.add(.data(DataChunk(flags: .complete, tsn: association.nextTSN, streamIdentifier: 0, ssn: SSN(0),
                                        payloadProtocolIdentifier: 42, payload: testPayload(stream: 0, index: 0, length: 50))))
            let datagram = try #require(builder.finish().first).datagram
            let types = try SCTPPacket(parsing: datagram).chunks.map(\.type)
            #expect(types == (authFirst ? [ChunkType.auth, ChunkType.cookieEcho, ChunkType.data]
                                        : [ChunkType.cookieEcho, ChunkType.auth, ChunkType.data]))
            h.server.endpoint.handle(datagram: datagram, from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
            #expect(h.run { H.messages(h.server).count == 1 && !H.upEvents(h.client).isEmpty })
            #expect(H.messages(h.server).first?.payloadProtocolIdentifier == 42)
        }
    }

    @Test("§6.3: chunks in our CHUNKS list arriving without AUTH are dropped; a failed AUTH discards what follows it, not what precedes it")
    func bareChunksDropped() throws {
        let config = Self.configuration(chunks: [ChunkType.data])
        let (h, c, _) = Self.harness(seed: 10, client: config, server: config)
        let (id, serverID) = try Self.established(h)
        c.tamper = { Self.withoutAuth($0) }
        for index in 0..<3 { try Self.send(h, h.client, id, index: index) }
        h.run(for: .seconds(3)) { false }
        #expect(H.messages(h.server).isEmpty)
        #expect((h.server.endpoint.authenticationCounters(on: serverID)?.unauthenticatedChunksDropped ?? 0) > 0)
        c.tamper = nil
        #expect(h.run { H.messages(h.server).count == 3 })

        // A forged packet: HEARTBEAT, then AUTH with a bad MAC, then SHUTDOWN. The HEARTBEAT is
        // answered; the SHUTDOWN (not even in the list) is discarded with the rest.
        let before = h.server.endpoint.state(of: serverID)
        let tag = try #require(c.sent.last.flatMap { _ in self.peerTag(h, serverID) })
        var info = ByteBuffer()
        info.writeString("forged")
        let forged = SCTPPacket(header: CommonHeader(sourcePort: H.clientPort, destinationPort: H.serverPort, verificationTag: tag), chunks: [
            .heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info))),
            .auth(AuthChunk(sharedKeyIdentifier: 0, hmacIdentifier: 3, hmac: ByteBuffer(bytes: [UInt8](repeating: 7, count: 32)))),
            .shutdown(ShutdownChunk(cumulativeTSNAck: TSN(0))),
        ])
        h.server.endpoint.handle(datagram: forged.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
        #expect(h.server.endpoint.state(of: serverID) == before)
        var sawHeartbeatAck = false
        while let transmit = h.server.endpoint.pollTransmit() {
            if let packet = try? SCTPPacket(parsing: transmit.datagram, checksum: .skipped),
               packet.chunks.contains(where: { $0.type == ChunkType.heartbeatAck }) { sawHeartbeatAck = true }
        }
        #expect(sawHeartbeatAck)
        // Unknown key id, forged: no state change either.
        let unknownKey = SCTPPacket(header: forged.header, chunks: [
            .auth(AuthChunk(sharedKeyIdentifier: 99, hmacIdentifier: 1, hmac: ByteBuffer(bytes: [UInt8](repeating: 1, count: 20)))),
            .abort(AbortChunk(causes: [])),
        ])
        h.server.endpoint.handle(datagram: unknownKey.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
        #expect(h.server.endpoint.state(of: serverID) == before)
    }

    @Test("§6.3 with I-DATA (RFC 8260): asking for DATA authenticated covers I-DATA, which replaces it; bare I-DATA is dropped")
    func interleavedDataAuthenticated() throws {
        var config = Self.configuration(chunks: [ChunkType.data])
        config.interleaving = true
        let (h, c, _) = Self.harness(seed: 21, client: config, server: config)
        let (id, serverID) = try Self.established(h)
        #expect(try h.server.endpoint.localAuthenticatedChunks(on: serverID).contains(ChunkType.iData))
        c.tamper = { Self.withoutAuth($0) }
        for index in 0..<3 { try Self.send(h, h.client, id, index: index) }
        h.run(for: .seconds(3)) { false }
        #expect(c.sent.contains { $0.contains { $0.type == ChunkType.iData } }, "the client sends I-DATA")
        #expect(H.messages(h.server).isEmpty, "bare I-DATA was delivered")
        #expect((h.server.endpoint.authenticationCounters(on: serverID)?.unauthenticatedChunksDropped ?? 0) > 0)
        c.tamper = nil
        #expect(h.run { H.messages(h.server).count == 3 })
    }

    @Test("§6.3: a chunk of our list before a valid AUTH chunk in the same packet is dropped; the chunks after the AUTH chunk are processed")
    func listedChunkBeforeValidAuth() throws {
        let config = Self.configuration(chunks: [ChunkType.data, ChunkType.heartbeat], key: [3, 1, 4])
        let (h, _, s) = Self.harness(seed: 22, client: config, server: config)
        let (id, serverID) = try Self.established(h)
        h.run(for: .seconds(1)) { false }
        let association = try #require(h.client.endpoint.association(id))
        let signer = try #require(association.packetAuthenticator())
        // The AUTH chunk goes before the HEARTBEAT only: the DATA chunk ahead of it is bare.
        var builder = PacketBuilder(header: association.commonHeader, mtu: 1200, destination: h.server.addresses[0], checksum: .crc32c)
        builder.authenticator = PacketAuthenticator(chunks: ChunkTypeSet([ChunkType.heartbeat]), keyID: signer.keyID, mac: try #require(association.senderMAC()))
        builder.add(.data(DataChunk(flags: .complete, tsn: association.nextTSN, streamIdentifier: 0, ssn: SSN(0),
                                    payloadProtocolIdentifier: 42, payload: testPayload(stream: 0, index: 0, length: 50))))
        var info = ByteBuffer()
        info.writeString("listed chunk first")
        builder.add(.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info))))
        let datagram = try #require(builder.finish().first).datagram
        #expect(try SCTPPacket(parsing: datagram).chunks.map(\.type) == [ChunkType.data, ChunkType.auth, ChunkType.heartbeat])
        let dropped = h.server.endpoint.authenticationCounters(on: serverID)?.unauthenticatedChunksDropped ?? 0
        let heartbeatAcks = s.sent.filter { $0.contains { $0.type == ChunkType.heartbeatAck } }.count
        h.server.endpoint.handle(datagram: datagram, from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
        #expect(h.run(for: .seconds(2)) { s.sent.filter { $0.contains { $0.type == ChunkType.heartbeatAck } }.count > heartbeatAcks },
                "the HEARTBEAT after the valid AUTH chunk is answered")
        h.run(for: .seconds(2)) { false }
        #expect(!H.messages(h.server).contains { $0.payloadProtocolIdentifier == 42 }, "the DATA before the AUTH chunk was delivered")
        #expect(h.server.endpoint.authenticationCounters(on: serverID)?.unauthenticatedChunksDropped == dropped + 1)
        #expect(h.server.endpoint.authenticationCounters(on: serverID)?.refusedPackets == 0)
    }

    @Test("§6.3: AUTH then COOKIE ECHO with a bad MAC: the packet is discarded, no association is set up, no COOKIE ACK; the good one sets it up")
    func cookieEchoBadMAC() throws {
        let (h, c, s) = Self.harness(seed: 23, client: Self.configuration(key: [5]),
                                     server: Self.configuration(chunks: [ChunkType.cookieEcho, ChunkType.data], key: [5]))
        // The client's COOKIE ECHO (with AUTH first: the server lists COOKIE ECHO) is kept back.
        var echoPacket: SCTPPacket?
        c.tamper = { packet in
            if packet.chunks.contains(where: { $0.type == ChunkType.cookieEcho }) {
                if echoPacket == nil { echoPacket = packet }
                return nil
            }
            return packet
        }
        _ = try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        #expect(h.run(for: .seconds(1)) { echoPacket != nil })
        let good = try #require(echoPacket)
        #expect(good.chunks.map(\.type) == [ChunkType.auth, ChunkType.cookieEcho])
        let sentBefore = s.sent.count
        for forged in [Self.flipHMAC(good), Self.withoutAuth(good)] {
            h.server.endpoint.handle(datagram: forged.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
            h.run(for: .milliseconds(100)) { false }
            #expect(H.upEvents(h.server).isEmpty, "\(forged.chunks.map(\.type)) set an association up")
            #expect(!s.sent.dropFirst(sentBefore).joined().contains { $0.type == ChunkType.cookieAck })
        }
        h.server.endpoint.handle(datagram: good.serialized(), from: h.client.addresses[0], to: h.server.addresses[0], now: h.now)
        #expect(h.run(for: .seconds(1)) { H.upEvents(h.server).count == 1 })
    }

    @Test("a refused packet is counted without making the association's AUTH summary afresh (its cached signer and verifier stay)")
    func countingKeepsSummary() throws {
        let config = Self.configuration(chunks: [ChunkType.data, ChunkType.sack], key: [8])
        let (h, c, _) = Self.harness(seed: 24, client: config, server: config)
        let (id, serverID) = try Self.established(h)
        try Self.send(h, h.client, id, index: 0)
        try Self.send(h, h.server, serverID, index: 0)
        #expect(h.run { H.messages(h.server).count == 1 && H.messages(h.client).count == 1 })
        let server = try #require(h.server.endpoint.association(serverID))
        #expect(server.authenticationSummary.senderKnown)
        #expect(server.authenticationSummary.verifier != nil)
        c.tamper = { Self.flipHMAC($0) }
        try Self.send(h, h.client, id, index: 1)
        #expect(h.run(for: .seconds(2)) { (h.server.endpoint.authenticationCounters(on: serverID)?.refusedPackets ?? 0) > 0 })
        c.tamper = { Self.withoutAuth($0) }
        #expect(h.run(for: .seconds(5)) { (h.server.endpoint.authenticationCounters(on: serverID)?.unauthenticatedChunksDropped ?? 0) > 0 })
        #expect(server.authenticationSummary.senderKnown, "counting made the summary afresh")
        #expect(server.authenticationSummary.verifier != nil, "counting made the summary afresh")
        #expect(server.statistics.authenticationRefusedPackets > 0)
    }

    func peerTag(_ h: H, _ id: AssociationID) -> UInt32? {
        // The server's own tag is what the client puts on its packets.
        h.server.endpoint.association(id)?.localTag
    }

    // MARK: §6.1 invalid parameters

    @Test("§6.1: an INIT with a RANDOM not of 32 bytes, or an HMAC-ALGO without SHA-1, is answered with ABORT (Protocol Violation)")
    func invalidParameters() throws {
        let endpoint = SCTPEndpoint(configuration: SCTPConfiguration(), localPort: 5001, localAddresses: [.v4(IPv4Address(10, 0, 1, 1))],
                                    acceptsAssociations: true, random: SeededRandomSource(seed: 1), now: .zero)
        let cases: [[Parameter]] = [
            [.random(RandomParameter(random: ByteBuffer(bytes: [UInt8](repeating: 1, count: 16)))),
             .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [1]))],
            [.random(RandomParameter(random: ByteBuffer(bytes: [UInt8](repeating: 1, count: 32)))),
             .requestedHMACAlgorithm(RequestedHMACAlgorithmParameter(hmacIdentifiers: [3]))],
        ]
        for parameters in cases {
            let initChunk = InitChunk(initiateTag: 1234, advertisedReceiverWindowCredit: 65536, outboundStreams: 10,
                                      inboundStreams: 10, initialTSN: TSN(1), parameters: ParameterList(parameters))
            let packet = SCTPPacket(header: CommonHeader(sourcePort: 5002, destinationPort: 5001, verificationTag: 0),
                                    chunks: [.initiation(initChunk)])
            endpoint.handle(datagram: packet.serialized(), from: .v4(IPv4Address(10, 0, 0, 1)), to: .v4(IPv4Address(10, 0, 1, 1)), now: .zero)
            let reply = try #require(endpoint.pollTransmit())
            let answer = try SCTPPacket(parsing: reply.datagram, checksum: .skipped)
            guard case .abort(let abort) = answer.chunks.first else {
                Issue.record("expected ABORT, got \(answer.chunks)")
                continue
            }
            #expect(abort.causes.contains { if case .protocolViolation = $0 { true } else { false } })
        }
    }

    @Test("§6.2: the MAC is HMAC (RFC 2104) over the AUTH chunk with a zero HMAC field and what follows, for short and long keys, SHA-1 and SHA-256")
    func macMatchesHMAC() throws {
        for algorithm in SCTPHMACAlgorithm.allCases {
            for key in [[UInt8](), Array("secret".utf8), [UInt8](repeating: 0xAB, count: 150)] {
                let mac = AuthMAC(algorithm: algorithm, key: key)
                let authenticator = PacketAuthenticator(chunks: ChunkTypeSet([0]), keyID: 7, mac: mac)
                var packet = ByteBuffer(bytes: [UInt8](repeating: 0x11, count: 12))
                let offset = packet.writerIndex
                authenticator.writePlaceholder(to: &packet)
                packet.writeBytes((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) })
                let unsigned = Array(packet.readableBytesView[offset...])
                mac.sign(&packet, authChunkAt: offset)
                let expected: [UInt8] = algorithm == .sha1
                    ? Array(HMAC<Insecure.SHA1>.authenticationCode(for: unsigned, using: SymmetricKey(data: key)))
                    : Array(HMAC<SHA256>.authenticationCode(for: unsigned, using: SymmetricKey(data: key)))
                #expect(Array(packet.readableBytesView[(offset + 8)..<(offset + 8 + algorithm.macLength)]) == expected,
                        "\(algorithm) key \(key.count) bytes")
                let region = packet.getSlice(at: offset, length: packet.writerIndex - offset)!
                #expect(mac.verify(region))
                var tampered = packet
                tampered.setInteger(UInt8(0xFF), at: tampered.writerIndex - 1)
                #expect(!mac.verify(tampered.getSlice(at: offset, length: tampered.writerIndex - offset)!))
            }
        }
    }

    @Test("§6.1: the association key orders the key vectors numerically, the shorter (smaller) first")
    func keyVectorOrder() {
        #expect(AuthKeyVector.compare([0, 0, 5], [5]) == 1)
        #expect(AuthKeyVector.compare([0, 5], [0, 5]) == 0)
        #expect(AuthKeyVector.compare([1, 0], [0xFF]) == 1)
        #expect(AuthKeyVector.compare([0x80, 2], [0x80, 3]) == -1)
    }

    @Test("RFC 6458: key options refuse what RFC 4895 forbids (EINVAL)")
    func keyOptionErrors() throws {
        var settings = SCTPAuthenticationConfiguration()
        #expect(throws: CoreError.self) { try settings.addChunkType(ChunkType.initiation) }
        #expect(throws: CoreError.self) { try settings.addChunkType(ChunkType.auth) }
        #expect(throws: CoreError.self) { try settings.setHMACIdentifiers([3]) }
        #expect(throws: CoreError.self) { try settings.setHMACIdentifiers([1, 2]) }
        #expect(throws: CoreError.self) { try settings.deleteKey(0) }
        #expect(throws: CoreError.self) { try settings.activateKey(4) }
        #expect(throws: CoreError.self) { try settings.setKey([UInt8](repeating: 0, count: 5000), id: 4) }
        try settings.setKey([1], id: 4)
        try settings.deactivateKey(4)
        #expect(throws: CoreError.self) { try settings.activateKey(4) }
        try settings.setHMACIdentifiers([1, 3])
        #expect(settings.hmacAlgorithms == [.sha1, .sha256])
        // Repeats are left out; empty and over-long lists are refused, the list unchanged.
        try settings.setHMACIdentifiers([3, 3, 1, 3, 1])
        #expect(settings.hmacAlgorithms == [.sha256, .sha1])
        #expect(throws: CoreError.self) { try settings.setHMACIdentifiers([]) }
        #expect(throws: CoreError.self) { try settings.setHMACIdentifiers([UInt16](repeating: 1, count: 65)) }
        #expect(settings.hmacAlgorithms == [.sha256, .sha1])
    }

    @Test("§3.3: a configured HMAC list with repeats and without SHA-1 is announced without repeats, SHA-1 added; the cookie carries it and AUTH works")
    func hmacListNormalized() throws {
        var client = Self.configuration(chunks: [ChunkType.data], key: [1])
        client.authentication.hmacAlgorithms = [SCTPHMACAlgorithm](repeating: .sha256, count: 100)
        var server = Self.configuration(chunks: [ChunkType.data], key: [1])
        server.authentication.hmacAlgorithms = [SCTPHMACAlgorithm](repeating: .sha1, count: 40) + [SCTPHMACAlgorithm](repeating: .sha256, count: 40)
        #expect(client.authentication.announcedHMACAlgorithms == [.sha256, .sha1])
        #expect(server.authentication.announcedHMACAlgorithms == [.sha1, .sha256])
        let (h, c, s) = Self.harness(seed: 25, client: client, server: server)
        let (id, serverID) = try Self.established(h)
        func hmacs(_ chunk: Chunk?) -> [UInt16]? {
            let parameters: ParameterList? = switch chunk {
            case .initiation(let i): i.parameters
            case .initiationAck(let a): a.parameters
            default: nil
            }
            return parameters?.parameters.lazy.compactMap { if case .requestedHMACAlgorithm(let p) = $0 { p.hmacIdentifiers } else { nil } }.first
        }
        #expect(hmacs(c.sent.first?.first) == [3, 1])
        #expect(hmacs(s.sent.first?.first) == [1, 3])
        #expect(h.client.endpoint.isAuthenticationNegotiated(on: id))
        #expect(h.server.endpoint.isAuthenticationNegotiated(on: serverID))
        for index in 0..<3 { try Self.send(h, h.client, id, index: index) }
        #expect(h.run { H.messages(h.server).count == 3 })
        #expect(Self.authenticatedWhereAsked(c.sent, types: [ChunkType.data]))
    }

    // MARK: memory: chunk lists shared

    @Test("associations whose peers ask for the same chunk types share one box of chunk lists; a different list gets its own")
    func chunkListsShared() throws {
        let server: IPAddress = .v4(IPv4Address(10, 0, 1, 1))
        let clients: [IPAddress] = (1...3).map { .v4(IPv4Address(10, 0, 0, UInt8($0))) }
        var network = SimulatedNetwork(seed: 41)
        for client in clients { network.addSymmetricLink(between: client, and: server, conditions: LinkConditions(delay: .milliseconds(5))) }
        let usual = Self.configuration(chunks: [ChunkType.asconf, ChunkType.asconfAck])
        let serverSide = EndpointParticipant(endpoint: SCTPEndpoint(
            configuration: usual, localPort: H.serverPort, localAddresses: [server], acceptsAssociations: true,
            random: SeededRandomSource(seed: 41), now: .zero))
        // The third client asks for another list.
        let clientSides = clients.enumerated().map { index, address in
            EndpointParticipant(endpoint: SCTPEndpoint(
                configuration: index == 2 ? Self.configuration(chunks: [ChunkType.asconf]) : usual,
                localPort: H.clientPort, localAddresses: [address], random: SeededRandomSource(seed: 42 + UInt64(index)), now: .zero))
        }
        var loop = SimulationLoop(clock: VirtualClock(), network: network, participants: [serverSide] + clientSides)
        for client in clientSides { _ = try client.endpoint.connect(to: [server], port: H.serverPort, now: loop.now) }
        loop.flushTransmits()
        let outcome = loop.run(for: .seconds(10), maxSteps: 100_000) { _ in H.upEvents(serverSide).count == 3 }
        #expect(outcome.reason == .condition)
        let accepted = try H.upEvents(serverSide).map { try #require(serverSide.endpoint.association($0)) }
        try #require(accepted.count == 3)
        let byClient = try clients.map { client in try #require(accepted.first { $0.paths.first?.address == client }) }
        let (first, second, third) = (byClient[0].authenticationSummary, byClient[1].authenticationSummary, byClient[2].authenticationSummary)
        #expect(first.peerChunks == ChunkTypeSet([ChunkType.asconf, ChunkType.asconfAck]))
        #expect(third.peerChunks == ChunkTypeSet([ChunkType.asconf]))
        #expect(first.localChunks == ChunkTypeSet([ChunkType.asconf, ChunkType.asconfAck]) && third.localChunks == first.localChunks)
        #expect(first.sharesLists(with: second), "the same lists: one box")
        #expect(!first.sharesLists(with: third), "another peer list: another box")
        #expect(serverSide.endpoint.sharedAssociationConfiguration.authenticationLists.count == 2)
    }

    @Test("the table of shared chunk lists keeps at most its capacity, and every answer holds the lists asked for")
    func chunkListTableBounded() {
        let table = AuthenticationListTable()
        let local = ChunkTypeSet([ChunkType.asconf])
        var boxes: [AuthenticationChunkLists] = []
        for type in UInt8(0)..<UInt8(40) {
            let lists = table.lists(local: local, peer: ChunkTypeSet([type]))
            #expect(lists.local == local && lists.peer == ChunkTypeSet([type]))
            boxes.append(lists)
            #expect(table.count <= AuthenticationListTable.capacity)
        }
        #expect(table.count == AuthenticationListTable.capacity)
        // The latest lists are still in the table; the first ones were replaced.
        #expect(table.lists(local: local, peer: ChunkTypeSet([39])) === boxes[39])
        #expect(table.lists(local: local, peer: ChunkTypeSet([0])) !== boxes[0])
    }
}
