import NIOCore
@testable import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

// RFC 9260 §5.2 (handshake corner cases: collisions, unexpected INIT / INIT ACK / COOKIE ECHO /
// COOKIE ACK, peer restart) and §8.5 / §8.5.1 (verification tags), end to end over the
// simulated network and with crafted packets injected at an endpoint.

/// A participant that records every datagram its endpoint sends and receives.
final class WireTap: SimulationParticipant {
    let inner: EndpointParticipant
    private(set) var sent: [(time: SCTPInstant, packet: SCTPPacket, to: IPAddress)] = []
    private(set) var received: [(time: SCTPInstant, packet: SCTPPacket, from: IPAddress)] = []

    init(_ inner: EndpointParticipant) { self.inner = inner }

    var addresses: [IPAddress] { inner.addresses }
    var nextDeadline: SCTPInstant? { inner.nextDeadline }
    func handleTimeout(now: SCTPInstant) { inner.handleTimeout(now: now) }

    func receive(_ delivery: Delivery, now: SCTPInstant) {
        if let packet = try? SCTPPacket(parsing: delivery.datagram) { received.append((now, packet, delivery.from)) }
        inner.receive(delivery, now: now)
    }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        guard let outgoing = inner.pollTransmit(now: now) else { return nil }
        if let packet = try? SCTPPacket(parsing: outgoing.datagram) { sent.append((now, packet, outgoing.to)) }
        return outgoing
    }

    /// Every chunk sent, with its packet's header, in order.
    var sentChunks: [(header: CommonHeader, chunk: Chunk)] {
        sent.flatMap { entry in entry.packet.chunks.map { (entry.packet.header, $0) } }
    }

    func sentCount(where predicate: (Chunk) -> Bool) -> Int { sentChunks.filter { predicate($0.chunk) }.count }

    func forgetSent() { sent.removeAll() }
}

extension AssociationHarness {
    /// Puts both participants behind wire taps (the loop serves the taps).
    func tap() -> (client: WireTap, server: WireTap) {
        let taps = (client: WireTap(client), server: WireTap(server))
        loop.participants = [taps.client, taps.server]
        return taps
    }

    /// The core's association behind an id.
    func association(_ participant: EndpointParticipant, _ id: AssociationID) throws -> Association {
        try #require(participant.endpoint.associations[id], "no association \(id)")
    }

    /// Delivers a crafted packet to a participant as if `source` (port in the packet) had sent
    /// it, then puts whatever it answers on the network (through the taps, if any).
    func inject(_ packet: SCTPPacket, into participant: EndpointParticipant, from source: IPAddress) {
        participant.receive(Delivery(datagram: packet.serialized(), from: source, to: participant.addresses[0],
                                     time: now, sentAt: now), now: now)
        loop.flushTransmits()
    }

    /// Lets `duration` of simulated time pass.
    func advance(by duration: Duration) {
        let end = now + duration
        _ = loop.run(until: end, maxSteps: 2_000_000)
    }

    /// Connects the client and runs until both sides are up; returns both ids.
    func establish() throws -> (client: AssociationID, server: AssociationID) {
        let id = try connect()
        guard run(until: { !Self.upEvents(self.client).isEmpty && !Self.upEvents(self.server).isEmpty }) else {
            throw HarnessError.notEstablished
        }
        return (id, Self.upEvents(server)[0])
    }

    enum HarnessError: Error { case notEstablished }

    static func restarts(_ p: EndpointParticipant) -> [AssociationID] {
        p.events.compactMap { if case .restart(let id) = $0.event { id } else { nil } }
    }

    static func lostEvents(_ p: EndpointParticipant) -> Int {
        p.events.filter { if case .communicationLost = $0.event { true } else { false } }.count
    }

    static func eventCount(_ p: EndpointParticipant) -> Int { p.events.count }

    /// Sends `count` small messages on stream 0 and runs until the other side has them all.
    func exchange(_ count: Int, from sender: EndpointParticipant, on id: AssociationID, to receiver: EndpointParticipant,
                  tag: Int = 0) -> Bool {
        let before = Self.messages(receiver).count
        for index in 0..<count {
            guard (try? sender.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: tag + index, length: 100)),
                                             on: id, now: now)) != nil else { return false }
        }
        loop.flushTransmits()
        return run(for: .seconds(60)) { Self.messages(receiver).count >= before + count }
    }
}

/// Packets a test crafts.
enum Craft {
    static func initChunk(tag: UInt32, tsn: UInt32 = 1000, addresses: [IPAddress] = []) -> InitChunk {
        var parameters: [Parameter] = addresses.map(Parameter.init(address:))
        parameters.append(.supportedAddressTypes(SupportedAddressTypesParameter(addressTypes: [5])))
        return InitChunk(initiateTag: tag, advertisedReceiverWindowCredit: 65_536, outboundStreams: 10,
                         inboundStreams: 10, initialTSN: TSN(tsn), parameters: ParameterList(parameters))
    }

    static func packet(from sourcePort: UInt16, to destinationPort: UInt16, tag: UInt32, _ chunks: [Chunk]) -> SCTPPacket {
        SCTPPacket(header: CommonHeader(sourcePort: sourcePort, destinationPort: destinationPort, verificationTag: tag),
                   chunks: chunks)
    }

    static func data(tsn: TSN, payload: [UInt8] = [1, 2, 3]) -> Chunk {
        .data(DataChunk(flags: .complete, tsn: tsn, streamIdentifier: 0, ssn: SSN(0), payloadProtocolIdentifier: 0,
                        payload: ByteBuffer(bytes: payload)))
    }
}

extension Chunk {
    var isInitAck: Bool { if case .initiationAck = self { true } else { false } }
    var isCookieEcho: Bool { if case .cookieEcho = self { true } else { false } }
    var isCookieAck: Bool { if case .cookieAck = self { true } else { false } }
    var isAbort: Bool { if case .abort = self { true } else { false } }
    var isShutdownAck: Bool { if case .shutdownAck = self { true } else { false } }
}

private let clientAddress = IPAddress.v4(IPv4Address(10, 0, 0, 1))
private let serverAddress = IPAddress.v4(IPv4Address(10, 0, 1, 1))

// MARK: - §5.2.1 INIT collision

@Suite("§5.2.1 both sides connect at once")
struct InitCollisionTests {
    typealias H = AssociationHarness

    /// Both endpoints listen and connect to each other, the server `offset` after the client.
    /// With one-way delay 5 ms: below 5 ms both INITs cross (each side answers in COOKIE-WAIT
    /// with its own tag, case D on both sides); from 5 ms the server answers the client's INIT
    /// statelessly first, then connects, so the client meets the server's INIT in COOKIE-ECHOED
    /// and the cookies resolve by case B (client) and a discarded cookie (server).
    @Test("one association per side, communicationUp once each, data flows",
          arguments: [Duration.zero, .milliseconds(1), .milliseconds(4), .milliseconds(6), .milliseconds(9), .milliseconds(12)])
    func simultaneousOpen(offset: Duration) throws {
        let h = H(seed: 40)
        h.client.endpoint.acceptsAssociations = true
        let taps = h.tap()
        let clientID = try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        if offset > .zero { h.advance(by: offset) }
        let serverID = try h.server.endpoint.connect(to: h.client.addresses, port: H.clientPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        h.advance(by: .seconds(10))

        #expect(H.upEvents(h.client) == [clientID])
        #expect(H.upEvents(h.server) == [serverID])
        #expect(h.client.endpoint.associationIDs == [clientID])
        #expect(h.server.endpoint.associationIDs == [serverID])
        #expect(H.cannotStart(h.client) == nil && H.cannotStart(h.server) == nil)
        #expect(h.client.endpoint.state(of: clientID) == .established)
        #expect(h.server.endpoint.state(of: serverID) == .established)
        // Each side's tag is the other's peer tag.
        let c = try h.association(h.client, clientID)
        let s = try h.association(h.server, serverID)
        #expect(c.localTag == s.peerTag && s.localTag == c.peerTag)
        // Which path the collision took: crossing INITs are answered with the tag each side
        // already has; from 5 ms on, the server's first INIT ACK (stateless, before it
        // connected) carries a tag that case B then replaced on the client.
        let firstServerInitAck = taps.server.sent.lazy.compactMap { entry -> InitAckChunk? in
            if case .initiationAck(let ack) = entry.packet.chunks.first { ack } else { nil }
        }.first
        let stateless = offset >= .milliseconds(5)
        #expect((firstServerInitAck?.initiateTag == s.localTag) == !stateless)
        // No ABORT anywhere; exactly one COOKIE ACK from at least one side.
        #expect(taps.client.sentCount { $0.isAbort } == 0 && taps.server.sentCount { $0.isAbort } == 0)
        #expect(taps.client.sentCount { $0.isCookieAck } + taps.server.sentCount { $0.isCookieAck } >= 1)

        #expect(h.exchange(20, from: h.client, on: clientID, to: h.server))
        #expect(h.exchange(20, from: h.server, on: serverID, to: h.client))
        #expect(h.server.events.allSatisfy { if case .message(let id, _) = $0.event { id == serverID } else { true } })
    }

    @Test("crossing INITs on a lossy, duplicating, reordering network still end in one association each",
          arguments: [UInt64(41), 42, 43, 44, 45, 46])
    func simultaneousOpenLossy(seed: UInt64) throws {
        let conditions = LinkConditions(delay: .milliseconds(10), jitter: .milliseconds(4), lossProbability: 0.1,
                                        duplicationProbability: 0.1, reorderProbability: 0.1, reorderDelay: .milliseconds(15))
        let h = H(seed: seed, conditions: conditions)
        h.client.endpoint.acceptsAssociations = true
        let clientID = try h.client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.advance(by: .milliseconds(Int64(seed % 4) * 3))
        let serverID = try h.server.endpoint.connect(to: h.client.addresses, port: H.clientPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(300)) { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        h.advance(by: .seconds(10))
        #expect(H.upEvents(h.client) == [clientID])
        #expect(H.upEvents(h.server) == [serverID])
        #expect(h.client.endpoint.associationIDs == [clientID] && h.server.endpoint.associationIDs == [serverID])
        #expect(H.lostEvents(h.client) == 0 && H.lostEvents(h.server) == 0)
        #expect(h.exchange(30, from: h.client, on: clientID, to: h.server))
        #expect(h.exchange(30, from: h.server, on: serverID, to: h.client))
    }

    @Test("an INIT in COOKIE-WAIT is answered with our own tag and initial TSN, tie-tags zero; nothing changes")
    func initInCookieWait() throws {
        let h = H(seed: 50)
        let taps = h.tap()
        let id = try h.connect()
        // The client's INIT never arrives: the client stays in COOKIE-WAIT.
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        h.advance(by: .milliseconds(10))
        let association = try h.association(h.client, id)
        let deadline = h.client.endpoint.nextDeadline
        taps.client.forgetSent()
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: 0, [.initiation(Craft.initChunk(tag: 0xAAAA_0001))]),
                 into: h.client, from: serverAddress)
        let reply = try #require(taps.client.sent.first)
        #expect(taps.client.sent.count == 1 && reply.to == serverAddress)
        #expect(reply.packet.header.verificationTag == 0xAAAA_0001)
        guard case .initiationAck(let ack) = reply.packet.chunks.first else { Issue.record("no INIT ACK"); return }
        #expect(ack.initiateTag == association.localTag)
        #expect(ack.initialTSN == association.nextTSN)
        guard case .valid(let cookie) = h.client.endpoint.cookies.open(ack.stateCookie!, now: h.now) else {
            Issue.record("cookie does not open"); return
        }
        #expect(cookie.localTag == association.localTag && cookie.peerTag == 0xAAAA_0001)
        #expect(cookie.localTieTag == 0 && cookie.peerTieTag == 0)
        #expect(h.client.endpoint.state(of: id) == .cookieWait)
        #expect(h.client.endpoint.nextDeadline == deadline, "T1-init keeps running")
        #expect(h.client.endpoint.associationIDs == [id])
    }

    @Test("an INIT in COOKIE-ECHOED is answered with our own tag and tie-tags set to our tags")
    func initInCookieEchoed() throws {
        let h = H(seed: 51)
        let taps = h.tap()
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .cookieEchoed })
        // The COOKIE ECHO is lost: the client stays in COOKIE-ECHOED.
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let association = try h.association(h.client, id)
        let peerTag = association.peerTag
        taps.client.forgetSent()
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: 0, [.initiation(Craft.initChunk(tag: 0xBBBB_0002))]),
                 into: h.client, from: serverAddress)
        let reply = try #require(taps.client.sent.first)
        guard case .initiationAck(let ack) = reply.packet.chunks.first else { Issue.record("no INIT ACK"); return }
        #expect(reply.packet.header.verificationTag == 0xBBBB_0002)
        #expect(ack.initiateTag == association.localTag)
        guard case .valid(let cookie) = h.client.endpoint.cookies.open(ack.stateCookie!, now: h.now) else {
            Issue.record("cookie does not open"); return
        }
        #expect(cookie.localTieTag == association.localTag && cookie.peerTieTag == peerTag)
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed)
        #expect(association.peerTag == peerTag)
    }

    @Test("an INIT in COOKIE-ECHOED that adds an address is refused with ABORT (Restart with New Addresses)")
    func initInCookieEchoedWithNewAddress() throws {
        let h = H(seed: 52)
        let taps = h.tap()
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .cookieEchoed })
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        taps.client.forgetSent()
        let added = IPAddress.v4(IPv4Address(10, 0, 1, 9))
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: 0,
                              [.initiation(Craft.initChunk(tag: 0xCCCC_0003, addresses: [serverAddress, added]))]),
                 into: h.client, from: serverAddress)
        let reply = try #require(taps.client.sent.first)
        #expect(reply.packet.header.verificationTag == 0xCCCC_0003)
        #expect(reply.packet.chunks == [.abort(AbortChunk(causes: [
            .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [added])),
        ]))])
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed)
        // And the handshake still completes once the link is back.
        _ = h.loop.network.setLinkUp(true, from: clientAddress, to: serverAddress, at: h.now)
        #expect(h.run { !H.upEvents(h.client).isEmpty })
        #expect(H.upEvents(h.client) == [id])
    }
}

// MARK: - §5.2.2 / §5.2.3 / §5.2.5 unexpected INIT, INIT ACK, COOKIE ACK

@Suite("§5.2.2, §5.2.3, §5.2.5 unexpected handshake chunks")
struct UnexpectedHandshakeChunkTests {
    typealias H = AssociationHarness

    @Test("an INIT in ESTABLISHED gets an INIT ACK with a new tag and tie-tags = current tags; the association stays up")
    func initInEstablished() throws {
        let h = H(seed: 60)
        let taps = h.tap()
        let ids = try h.establish()
        let server = try h.association(h.server, ids.server)
        let eventsBefore = H.eventCount(h.server)
        taps.server.forgetSent()
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0, [.initiation(Craft.initChunk(tag: 0xDDDD_0004))]),
                 into: h.server, from: clientAddress)
        let reply = try #require(taps.server.sent.first)
        #expect(reply.packet.header.verificationTag == 0xDDDD_0004)
        guard case .initiationAck(let ack) = reply.packet.chunks.first else { Issue.record("no INIT ACK"); return }
        #expect(ack.initiateTag != server.localTag && ack.initiateTag != 0)
        guard case .valid(let cookie) = h.server.endpoint.cookies.open(ack.stateCookie!, now: h.now) else {
            Issue.record("cookie does not open"); return
        }
        #expect(cookie.localTag == ack.initiateTag && cookie.peerTag == 0xDDDD_0004)
        #expect(cookie.localTieTag == server.localTag && cookie.peerTieTag == server.peerTag)
        // Nothing changed: same association object, state, tags, no event.
        #expect(try h.association(h.server, ids.server) === server)
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        #expect(H.eventCount(h.server) == eventsBefore)
        // The stray INIT ACK reaches the real client with a tag it does not own: discarded, not answered.
        h.advance(by: .milliseconds(20))
        #expect(taps.client.sentCount { $0.isAbort } == 0)
        #expect(h.exchange(10, from: h.client, on: ids.client, to: h.server))
        #expect(h.exchange(10, from: h.server, on: ids.server, to: h.client))
        #expect(h.server.endpoint.associationIDs == [ids.server])
    }

    @Test("an INIT in ESTABLISHED that adds an address gets ABORT (Restart with New Addresses) under its own tag")
    func initInEstablishedWithNewAddress() throws {
        let h = H(seed: 61)
        let taps = h.tap()
        let ids = try h.establish()
        taps.server.forgetSent()
        let added = IPAddress.v4(IPv4Address(10, 0, 0, 7))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0,
                              [.initiation(Craft.initChunk(tag: 0xEEEE_0005, addresses: [clientAddress, added]))]),
                 into: h.server, from: clientAddress)
        let reply = try #require(taps.server.sent.first)
        #expect(reply.packet.header.verificationTag == 0xEEEE_0005)
        #expect(reply.packet.chunks == [.abort(AbortChunk(causes: [
            .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [added])),
        ]))])
        // The ABORT carries a tag the client does not own: it is ignored, both stay up.
        h.advance(by: .milliseconds(20))
        #expect(h.client.endpoint.state(of: ids.client) == .established)
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        #expect(h.exchange(5, from: h.client, on: ids.client, to: h.server))
    }

    @Test("an INIT from an unknown source that lists a known address is matched to that association")
    func initListingKnownAddress() throws {
        let h = H(seed: 62)
        let taps = h.tap()
        let ids = try h.establish()
        taps.server.forgetSent()
        let newSource = IPAddress.v4(IPv4Address(10, 0, 0, 8))
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0,
                              [.initiation(Craft.initChunk(tag: 0x1111_0006, addresses: [newSource, clientAddress]))]),
                 into: h.server, from: newSource)
        let reply = try #require(taps.server.sent.first)
        #expect(reply.to == newSource)
        #expect(reply.packet.chunks == [.abort(AbortChunk(causes: [
            .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [newSource])),
        ]))])
        #expect(h.server.endpoint.associationIDs == [ids.server])
    }

    @Test("an INIT in SHUTDOWN-ACK-SENT is discarded and SHUTDOWN ACK sent again (§9.2)")
    func initInShutdownAckSent() throws {
        let h = H(seed: 63)
        let taps = h.tap()
        let ids = try h.establish()
        // The server's SHUTDOWN ACK never arrives: it stays in SHUTDOWN-ACK-SENT.
        _ = h.loop.network.setLinkUp(false, from: serverAddress, to: clientAddress, at: h.now)
        try h.client.endpoint.shutdown(ids.client, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { h.server.endpoint.state(of: ids.server) == .shutdownAckSent })
        taps.server.forgetSent()
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0, [.initiation(Craft.initChunk(tag: 0x2222_0007))]),
                 into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[.shutdownAck(ShutdownAckChunk())]])
        let peerTag = try h.association(h.server, ids.server).peerTag
        #expect(taps.server.sent.first?.packet.header.verificationTag == peerTag)
        #expect(h.server.endpoint.state(of: ids.server) == .shutdownAckSent)
    }

    @Test("§5.2.3 an INIT ACK outside COOKIE-WAIT is discarded, in COOKIE-ECHOED and in ESTABLISHED")
    func unexpectedInitAck() throws {
        let h = H(seed: 64)
        let taps = h.tap()
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .cookieEchoed })
        let initAck = try #require(taps.server.sent.first { $0.packet.chunks.first?.isInitAck == true }?.packet)
        let association = try h.association(h.client, id)
        let peerTag = association.peerTag
        taps.client.forgetSent()
        h.inject(initAck, into: h.client, from: serverAddress)
        #expect(taps.client.sent.isEmpty, "no second COOKIE ECHO")
        #expect(h.client.endpoint.state(of: id) == .cookieEchoed && association.peerTag == peerTag)
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        taps.client.forgetSent()
        h.inject(initAck, into: h.client, from: serverAddress)
        #expect(taps.client.sent.isEmpty)
        #expect(h.client.endpoint.state(of: id) == .established && association.peerTag == peerTag)
        h.advance(by: .seconds(5))
        #expect(H.upEvents(h.client) == [id])
        #expect(h.exchange(5, from: h.client, on: id, to: h.server))
    }

    @Test("§5.2.5 a COOKIE ACK outside COOKIE-ECHOED is discarded, in COOKIE-WAIT and in ESTABLISHED")
    func duplicateCookieAck() throws {
        let h = H(seed: 65)
        let taps = h.tap()
        let id = try h.connect()
        let association = try h.association(h.client, id)
        let cookieAck = Craft.packet(from: H.serverPort, to: H.clientPort, tag: association.localTag, [.cookieAck(CookieAckChunk())])
        h.inject(cookieAck, into: h.client, from: serverAddress)
        #expect(h.client.endpoint.state(of: id) == .cookieWait)
        #expect(H.upEvents(h.client).isEmpty)
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        taps.client.forgetSent()
        h.inject(cookieAck, into: h.client, from: serverAddress)
        #expect(taps.client.sent.isEmpty)
        h.advance(by: .seconds(1))
        #expect(H.upEvents(h.client) == [id])
        #expect(h.client.endpoint.state(of: id) == .established)
    }
}

// MARK: - §5.2.4 COOKIE ECHO when an association exists

@Suite("§5.2.4 COOKIE ECHO for an existing association (table 7)")
struct CookieEchoTableTests {
    typealias H = AssociationHarness

    /// A cookie the server would have made for the client, with chosen tags.
    static func cookie(_ h: H, localTag: UInt32, peerTag: UInt32, localTieTag: UInt32 = 0, peerTieTag: UInt32 = 0,
                       created: SCTPInstant? = nil) -> StateCookie {
        StateCookie(localTag: localTag, peerTag: peerTag, localInitialTSN: TSN(5000), peerInitialTSN: TSN(7000),
                    peerReceiverWindow: 65_536, outboundStreams: 10, inboundStreams: 10, peerOutboundStreams: 10,
                    peerInboundStreams: 10, localPort: H.serverPort, peerPort: H.clientPort, source: clientAddress,
                    peerAddresses: [], localTieTag: localTieTag, peerTieTag: peerTieTag,
                    created: created ?? h.now, lifetime: .seconds(60))
    }

    static func echo(_ h: H, _ cookie: StateCookie, signer: CookieSigner) -> SCTPPacket {
        Craft.packet(from: H.clientPort, to: H.serverPort, tag: cookie.localTag,
                     [.cookieEcho(CookieEchoChunk(cookie: signer.seal(cookie)))])
    }

    @Test("D: a retransmitted COOKIE ECHO in ESTABLISHED gets COOKIE ACK again, with no second association or event")
    func caseD() throws {
        let h = H(seed: 70)
        let taps = h.tap()
        let ids = try h.establish()
        let echo = try #require(taps.client.sent.first { $0.packet.chunks.first?.isCookieEcho == true }?.packet)
        let server = try h.association(h.server, ids.server)
        taps.server.forgetSent()
        h.inject(echo, into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[.cookieAck(CookieAckChunk())]])
        #expect(taps.server.sent.first?.packet.header.verificationTag == server.peerTag)
        h.advance(by: .seconds(1))
        #expect(h.server.endpoint.associationIDs == [ids.server])
        #expect(H.upEvents(h.server) == [ids.server] && H.upEvents(h.client) == [ids.client])
        #expect(h.exchange(5, from: h.client, on: ids.client, to: h.server))
    }

    @Test("D with a stale cookie still gets COOKIE ACK (both tags match)")
    func caseDStale() throws {
        var configuration = SCTPConfiguration()
        configuration.validCookieLife = .milliseconds(200)
        let h = H(seed: 71, serverConfiguration: configuration)
        let taps = h.tap()
        let ids = try h.establish()
        let echo = try #require(taps.client.sent.first { $0.packet.chunks.first?.isCookieEcho == true }?.packet)
        h.advance(by: .seconds(2))
        taps.server.forgetSent()
        h.inject(echo, into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[.cookieAck(CookieAckChunk())]])
        #expect(h.server.endpoint.associationIDs == [ids.server])
    }

    @Test("C: our own old cookie (new local tag, peer tag matches, no tie-tags) is discarded")
    func caseC() throws {
        let h = H(seed: 72)
        let taps = h.tap()
        let ids = try h.establish()
        let server = try h.association(h.server, ids.server)
        let cookie = Self.cookie(h, localTag: 0x3333_0001, peerTag: server.peerTag)
        taps.server.forgetSent()
        h.inject(Self.echo(h, cookie, signer: h.server.endpoint.cookies), into: h.server, from: clientAddress)
        #expect(taps.server.sent.isEmpty)
        #expect(h.server.endpoint.associationIDs == [ids.server])
        #expect(H.upEvents(h.server).count == 1)
    }

    @Test("a cookie matching no case of table 7 never creates a second association with the same peer",
          arguments: [(UInt32(0), UInt32(0)), (0x4444_0001, 0x4444_0002), (0, 0x4444_0003)])
    func unmatched(tieTags: (UInt32, UInt32)) throws {
        let h = H(seed: 73)
        let taps = h.tap()
        let ids = try h.establish()
        let cookie = Self.cookie(h, localTag: 0x5555_0001, peerTag: 0x5555_0002, localTieTag: tieTags.0, peerTieTag: tieTags.1)
        taps.server.forgetSent()
        h.inject(Self.echo(h, cookie, signer: h.server.endpoint.cookies), into: h.server, from: clientAddress)
        #expect(taps.server.sent.isEmpty)
        #expect(h.server.endpoint.associationIDs == [ids.server])
        #expect(H.upEvents(h.server).count == 1)
        #expect(h.server.endpoint.state(of: ids.server) == .established)
    }

    @Test("a stale cookie whose tags do not match gets a Stale Cookie error")
    func staleUnmatched() throws {
        let h = H(seed: 74)
        let taps = h.tap()
        let ids = try h.establish()
        let cookie = Self.cookie(h, localTag: 0x6666_0001, peerTag: 0x6666_0002, created: .zero)
        h.advance(by: .seconds(61))
        taps.server.forgetSent()
        h.inject(Self.echo(h, cookie, signer: h.server.endpoint.cookies), into: h.server, from: clientAddress)
        let reply = try #require(taps.server.sent.first)
        #expect(reply.packet.header.verificationTag == 0x6666_0002)
        guard case .error(let error) = reply.packet.chunks.first, case .staleCookie = error.causes.first else {
            Issue.record("expected a Stale Cookie error, got \(reply.packet.chunks)"); return
        }
        #expect(h.server.endpoint.associationIDs == [ids.server])
    }

    @Test("B: in COOKIE-ECHOED a cookie with our tag and a new peer tag brings the association up on the new tag")
    func caseB() throws {
        let h = H(seed: 75)
        let taps = h.tap()
        let id = try h.connect()
        #expect(h.run { h.client.endpoint.state(of: id) == .cookieEchoed })
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let association = try h.association(h.client, id)
        let oldPeerTag = association.peerTag
        // A cookie the client made (for an INIT from the server in COOKIE-ECHOED), echoed back.
        let cookie = StateCookie(localTag: association.localTag, peerTag: 0x7777_0001, localInitialTSN: association.nextTSN,
                                 peerInitialTSN: TSN(9000), peerReceiverWindow: 65_536, outboundStreams: 10,
                                 inboundStreams: 10, peerOutboundStreams: 10, peerInboundStreams: 10,
                                 localPort: H.clientPort, peerPort: H.serverPort, source: serverAddress, peerAddresses: [],
                                 localTieTag: association.localTag, peerTieTag: oldPeerTag, created: h.now,
                                 lifetime: .seconds(60))
        let echo = Craft.packet(from: H.serverPort, to: H.clientPort, tag: association.localTag,
                                [.cookieEcho(CookieEchoChunk(cookie: h.client.endpoint.cookies.seal(cookie))),
                                 Craft.data(tsn: TSN(9000))])
        taps.client.forgetSent()
        h.inject(echo, into: h.client, from: serverAddress)
        #expect(h.client.endpoint.state(of: id) == .established)
        #expect(association.peerTag == 0x7777_0001)
        #expect(H.upEvents(h.client) == [id])
        #expect(association.handshake == nil, "T1-cookie stopped")
        // COOKIE ACK under the new tag, and the bundled DATA was delivered.
        let ack = try #require(taps.client.sent.first)
        #expect(ack.packet.header.verificationTag == 0x7777_0001)
        #expect(ack.packet.chunks.first?.isCookieAck == true)
        #expect(H.messages(h.client).map(\.firstTSN) == [TSN(9000)])
    }

    @Test("A in SHUTDOWN-ACK-SENT: no restart; SHUTDOWN ACK again with Cookie Received While Shutting Down")
    func caseAInShutdownAckSent() throws {
        let h = H(seed: 76)
        let taps = h.tap()
        let ids = try h.establish()
        _ = h.loop.network.setLinkUp(false, from: serverAddress, to: clientAddress, at: h.now)
        try h.client.endpoint.shutdown(ids.client, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { h.server.endpoint.state(of: ids.server) == .shutdownAckSent })
        let server = try h.association(h.server, ids.server)
        let cookie = Self.cookie(h, localTag: 0x8888_0001, peerTag: 0x8888_0002,
                                 localTieTag: server.localTag, peerTieTag: server.peerTag)
        taps.server.forgetSent()
        h.inject(Self.echo(h, cookie, signer: h.server.endpoint.cookies), into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[
            .shutdownAck(ShutdownAckChunk()),
            .error(ErrorChunk(causes: [.cookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDownCause())])),
        ]])
        #expect(taps.server.sent.first?.packet.header.verificationTag == server.peerTag)
        #expect(h.server.endpoint.state(of: ids.server) == .shutdownAckSent)
        #expect(H.restarts(h.server).isEmpty)
        #expect(try h.association(h.server, ids.server) === server)
    }
}

// MARK: - Peer restart end to end

@Suite("§5.2.4 A peer restart, end to end")
struct PeerRestartTests {
    typealias H = AssociationHarness

    /// A fresh client endpoint on the same address and port, seeded differently.
    static func reboot(_ h: H, addresses: [IPAddress] = [clientAddress], seed: UInt64 = 777) -> EndpointParticipant {
        let rebooted = EndpointParticipant(endpoint: SCTPEndpoint(
            localPort: H.clientPort, localAddresses: addresses, random: SeededRandomSource(seed: seed), now: h.now))
        rebooted.failsTestOnInvariantViolation(name: "rebooted client")
        h.loop.participants = [rebooted, h.server]
        return rebooted
    }

    @Test("the server recognises the restart, reports .restart on the same id, and data flows again")
    func restart() throws {
        let h = H(seed: 80)
        let ids = try h.establish()
        #expect(h.exchange(10, from: h.client, on: ids.client, to: h.server))
        #expect(h.exchange(10, from: h.server, on: ids.server, to: h.client))
        let old = try h.association(h.server, ids.server)
        h.advance(by: .milliseconds(500))

        let client = Self.reboot(h)
        let newID = try client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !H.upEvents(client).isEmpty })
        #expect(h.run { !H.restarts(h.server).isEmpty })
        h.advance(by: .seconds(1))

        #expect(H.restarts(h.server) == [ids.server])
        #expect(H.upEvents(h.server) == [ids.server], "no second communicationUp")
        #expect(H.lostEvents(h.server) == 0)
        #expect(h.server.endpoint.associationIDs == [ids.server])
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        let restarted = try h.association(h.server, ids.server)
        let fresh = try h.association(client, newID)
        #expect(restarted.localTag != old.localTag && restarted.peerTag != old.peerTag)
        #expect(restarted.localTag == fresh.peerTag && restarted.peerTag == fresh.localTag)

        let before = H.messages(h.server).count
        #expect(h.exchange(20, from: client, on: newID, to: h.server, tag: 100))
        #expect(h.exchange(20, from: h.server, on: ids.server, to: client, tag: 200))
        #expect(H.messages(h.server).count == before + 20)
        #expect(H.messages(client).count == 20)
        let indices = H.messages(client).map { Int($0.payload.getInteger(at: $0.payload.readerIndex + 2, as: UInt32.self)!) }
        #expect(indices == Array(200..<220), "only data sent after the restart, in order")
        #expect(h.server.events.allSatisfy { if case .message(let id, _) = $0.event { id == ids.server } else { true } })
    }

    @Test("the server's unsent messages are reported as failed at the restart; nothing old reaches the new peer")
    func restartDropsOldData() throws {
        let h = H(seed: 81)
        let ids = try h.establish()
        // The server's data cannot reach the client; much of it stays queued.
        _ = h.loop.network.setLinkUp(false, from: serverAddress, to: clientAddress, at: h.now)
        for index in 0..<40 {
            try h.server.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1200)),
                                       on: ids.server, now: h.now)
        }
        h.loop.flushTransmits()
        h.advance(by: .milliseconds(100))
        let client = Self.reboot(h)
        _ = h.loop.network.setLinkUp(true, from: serverAddress, to: clientAddress, at: h.now)
        let newID = try client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { !H.upEvents(client).isEmpty && !H.restarts(h.server).isEmpty })
        let failed = h.server.events.filter { if case .sendFailed = $0.event { true } else { false } }.count
        #expect(failed > 0)
        h.advance(by: .seconds(30))
        #expect(H.messages(client).isEmpty)
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        #expect(h.exchange(5, from: h.server, on: ids.server, to: client, tag: 500))
        #expect(h.exchange(5, from: client, on: newID, to: h.server, tag: 600))
    }

    @Test("a restarting peer that adds an address is refused (Restart with New Addresses); the old association lives on until it fails",
          arguments: [false, true])
    func restartWithNewAddresses(newAddressFirst: Bool) throws {
        let h = H(seed: 82)
        let ids = try h.establish()
        let added = IPAddress.v4(IPv4Address(10, 0, 0, 2))
        h.loop.network.addSymmetricLink(between: added, and: serverAddress, conditions: LinkConditions(delay: .milliseconds(5)))
        let addresses = newAddressFirst ? [added, clientAddress] : [clientAddress, added]
        let client = Self.reboot(h, addresses: addresses)
        _ = try client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.cannotStart(client) != nil })
        #expect(H.cannotStart(client) == .refused(causes: [
            .restartWithNewAddresses(RestartWithNewAddressesCause(addresses: [added])),
        ]))
        #expect(h.server.endpoint.associationIDs == [ids.server])
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        #expect(H.restarts(h.server).isEmpty && H.lostEvents(h.server) == 0)
        // The old association's next heartbeat reaches the rebooted endpoint, which answers
        // ABORT (T bit, tag reflected): the server accepts it and the association ends.
        #expect(h.run(for: .seconds(120)) { H.lost(h.server) != nil })
        #expect(H.lost(h.server) == .peerAborted(causes: []))
        // Now the peer can connect afresh.
        let retry = try client.endpoint.connect(to: h.server.addresses, port: H.serverPort, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.upEvents(client).contains(retry) })
        #expect(H.upEvents(h.server).count == 2)
    }
}

// MARK: - §8.5 / §8.5.1 verification tags

@Suite("§8.5, §8.5.1 verification tag rules")
struct VerificationTagTests {
    typealias H = AssociationHarness

    enum TagChoice: String, CaseIterable, CustomStringConvertible {
        case local, peer, random, zero
        var description: String { rawValue }
    }

    static func tag(_ choice: TagChoice, _ association: Association) -> UInt32 {
        switch choice {
        case .local: association.localTag
        case .peer: association.peerTag
        case .random: association.localTag ^ 0x5A5A_5A5A
        case .zero: 0
        }
    }

    @Test("ABORT is accepted only with our tag and the T bit clear, or the peer's tag and the T bit set",
          arguments: [false, true], TagChoice.allCases)
    func abortRules(reflected: Bool, choice: TagChoice) throws {
        let h = H(seed: 90)
        let taps = h.tap()
        let ids = try h.establish()
        let server = try h.association(h.server, ids.server)
        let accepted = (!reflected && choice == .local) || (reflected && choice == .peer)
        taps.server.forgetSent()
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: Self.tag(choice, server),
                              [.abort(AbortChunk(tagFlags: reflected ? .reflectedTag : []))]),
                 into: h.server, from: clientAddress)
        #expect(taps.server.sent.isEmpty, "an ABORT is never answered")
        if accepted {
            #expect(H.lost(h.server) == .peerAborted(causes: []))
        } else {
            #expect(H.lost(h.server) == nil)
            #expect(h.server.endpoint.state(of: ids.server) == .established)
            #expect(h.exchange(5, from: h.client, on: ids.client, to: h.server))
            #expect(h.exchange(5, from: h.server, on: ids.server, to: h.client))
        }
    }

    @Test("a T-bit ABORT cannot end an association in COOKIE-WAIT (the peer's tag is not known)")
    func reflectedAbortInCookieWait() throws {
        let h = H(seed: 91)
        let id = try h.connect()
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let localTag = try h.association(h.client, id).localTag
        for tag in [UInt32(0), localTag] {
            h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: tag, [.abort(AbortChunk(tagFlags: .reflectedTag))]),
                     into: h.client, from: serverAddress)
        }
        #expect(h.client.endpoint.state(of: id) == .cookieWait)
        #expect(H.cannotStart(h.client) == nil)
        // The ABORT a non-listening peer sends to an INIT (our tag, T bit clear) does end it.
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: localTag, [.abort(AbortChunk())]),
                 into: h.client, from: serverAddress)
        #expect(H.cannotStart(h.client) == .refused(causes: []))
    }

    @Test("SHUTDOWN COMPLETE is accepted only with our tag and T clear, or the peer's tag and T set",
          arguments: [false, true], [TagChoice.local, .peer, .random])
    func shutdownCompleteRules(reflected: Bool, choice: TagChoice) throws {
        let h = H(seed: 92)
        let ids = try h.establish()
        _ = h.loop.network.setLinkUp(false, from: serverAddress, to: clientAddress, at: h.now)
        try h.client.endpoint.shutdown(ids.client, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { h.server.endpoint.state(of: ids.server) == .shutdownAckSent })
        let server = try h.association(h.server, ids.server)
        let accepted = (!reflected && choice == .local) || (reflected && choice == .peer)
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: Self.tag(choice, server),
                              [.shutdownComplete(ShutdownCompleteChunk(tagFlags: reflected ? .reflectedTag : []))]),
                 into: h.server, from: clientAddress)
        #expect(H.shutdownCompleted(h.server) == accepted)
        let state = h.server.endpoint.state(of: ids.server)
        if accepted { #expect(state == nil || state == .closed) } else { #expect(state == .shutdownAckSent) }
    }

    @Test("a lost SHUTDOWN COMPLETE: the peer, with no association left, answers the retransmitted SHUTDOWN ACK with a T-bit SHUTDOWN COMPLETE")
    func shutdownCompleteReflected() throws {
        let h = H(seed: 93)
        let taps = h.tap()
        let ids = try h.establish()
        let server = try h.association(h.server, ids.server)
        try h.client.endpoint.shutdown(ids.client, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { h.server.endpoint.state(of: ids.server) == .shutdownAckSent })
        // The client's SHUTDOWN COMPLETE is lost.
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        #expect(h.run { H.shutdownCompleted(h.client) })
        h.advance(by: .milliseconds(10))
        #expect(h.client.endpoint.associationIDs.isEmpty)
        _ = h.loop.network.setLinkUp(true, from: clientAddress, to: serverAddress, at: h.now)
        taps.client.forgetSent()
        #expect(h.run(for: .seconds(10)) { H.shutdownCompleted(h.server) })
        let reply = try #require(taps.client.sent.last)
        #expect(reply.packet.header.verificationTag == server.peerTag)
        #expect(reply.packet.chunks == [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))])
    }

    @Test("§8.5.1 E: a SHUTDOWN ACK in COOKIE-WAIT or COOKIE-ECHOED is answered with SHUTDOWN COMPLETE, T bit, tag reflected",
          arguments: [false, true], [TagChoice.local, .random])
    func shutdownAckDuringSetup(echoed: Bool, choice: TagChoice) throws {
        let h = H(seed: 94)
        let taps = h.tap()
        let id = try h.connect()
        if echoed { #expect(h.run { h.client.endpoint.state(of: id) == .cookieEchoed }) }
        _ = h.loop.network.setLinkUp(false, from: clientAddress, to: serverAddress, at: h.now)
        let state = h.client.endpoint.state(of: id)
        let tag = try Self.tag(choice, h.association(h.client, id))
        taps.client.forgetSent()
        h.inject(Craft.packet(from: H.serverPort, to: H.clientPort, tag: tag, [.shutdownAck(ShutdownAckChunk())]),
                 into: h.client, from: serverAddress)
        let reply = try #require(taps.client.sent.first)
        #expect(taps.client.sent.count == 1 && reply.to == serverAddress)
        #expect(reply.packet.header.verificationTag == tag)
        #expect(reply.packet.chunks == [.shutdownComplete(ShutdownCompleteChunk(tagFlags: .reflectedTag))])
        #expect(h.client.endpoint.state(of: id) == state)
    }

    @Test("packets from the peer with a wrong tag are discarded silently: no delivery, no answer, no state change")
    func wrongTagDiscarded() throws {
        let h = H(seed: 95)
        let taps = h.tap()
        let ids = try h.establish()
        let server = try h.association(h.server, ids.server)
        let wrong = server.localTag ^ 0x0F0F_0F0F
        var info = ByteBuffer()
        info.writeInteger(UInt64(42))
        let packets: [SCTPPacket] = [
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: wrong, [Craft.data(tsn: server.receiver.tracker.cumulativeTSN.advanced(by: 1))]),
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: wrong, [.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info)))]),
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: wrong, [.shutdown(ShutdownChunk(cumulativeTSNAck: TSN(0)))]),
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: wrong, [.shutdownAck(ShutdownAckChunk())]),
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: server.peerTag, [.cookieAck(CookieAckChunk())]),
            Craft.packet(from: H.clientPort, to: H.serverPort, tag: 0, [.heartbeat(HeartbeatChunk(info: HeartbeatInfoParameter(info: info)))]),
        ]
        let eventsBefore = H.eventCount(h.server)
        taps.server.forgetSent()
        for packet in packets { h.inject(packet, into: h.server, from: clientAddress) }
        #expect(taps.server.sent.isEmpty, "\(taps.server.sent.map(\.packet.chunks))")
        #expect(H.eventCount(h.server) == eventsBefore)
        #expect(h.server.endpoint.state(of: ids.server) == .established)
        // The right tag on the same DATA is accepted (the control case).
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: server.localTag,
                              [Craft.data(tsn: server.receiver.tracker.cumulativeTSN.advanced(by: 1))]),
                 into: h.server, from: clientAddress)
        #expect(H.messages(h.server).count == 1)
    }

    @Test("the same wrong-tag packet from an unknown peer is out of the blue: ABORT with the T bit")
    func wrongTagFromUnknownPeer() throws {
        let h = H(seed: 96)
        let taps = h.tap()
        _ = try h.establish()
        taps.server.forgetSent()
        h.inject(Craft.packet(from: 9999, to: H.serverPort, tag: 0x1234_5678, [Craft.data(tsn: TSN(1))]),
                 into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[.abort(AbortChunk(tagFlags: .reflectedTag))]])
        #expect(taps.server.sent.first?.packet.header.verificationTag == 0x1234_5678)
    }

    @Test("§8.5.1 A: an INIT with a non-zero verification tag is discarded, known peer or not",
          arguments: [false, true])
    func initWithNonZeroTag(established: Bool) throws {
        let h = H(seed: 97)
        let taps = h.tap()
        if established { _ = try h.establish() }
        taps.server.forgetSent()
        let tag: UInt32 = established ? try h.association(h.server, H.upEvents(h.server)[0]).localTag : 0x0101_0101
        h.inject(Craft.packet(from: H.clientPort, to: H.serverPort, tag: tag, [.initiation(Craft.initChunk(tag: 0x0202_0202))]),
                 into: h.server, from: clientAddress)
        #expect(taps.server.sent.isEmpty)
        #expect(h.server.endpoint.associationIDs.count == (established ? 1 : 0))
    }
}

// MARK: - §5.1 D COOKIE ECHO with DATA bundled

@Suite("§5.1 D: COOKIE ECHO with DATA bundled")
struct CookieEchoWithDataTests {
    typealias H = AssociationHarness

    @Test("COOKIE ECHO with DATA: one datagram carries COOKIE ACK, then the SACK; the DATA is delivered")
    func cookieAckBundledWithSack() throws {
        let h = H(seed: 90)
        let taps = h.tap()
        let cookie = CookieEchoTableTests.cookie(h, localTag: 0x1212_0001, peerTag: 0x1212_0002)
        let packet = Craft.packet(from: H.clientPort, to: H.serverPort, tag: cookie.localTag, [
            .cookieEcho(CookieEchoChunk(cookie: h.server.endpoint.cookies.seal(cookie))),
            Craft.data(tsn: TSN(7000)),
        ])
        #expect(packet.carriesData)
        h.inject(packet, into: h.server, from: clientAddress)
        h.advance(by: .seconds(1))
        let sent = taps.server.sent.filter { $0.to == clientAddress }
        #expect(sent.count == 1, "\(sent.map(\.packet.chunks))")
        let chunks = try #require(sent.first?.packet.chunks)
        #expect(chunks.count == 2)
        #expect(chunks.first?.isCookieAck == true)
        guard chunks.count == 2, case .sack(let sack) = chunks[1] else {
            Issue.record("expected COOKIE ACK then SACK, got \(chunks)")
            return
        }
        #expect(sack.cumulativeTSNAck == TSN(7000))
        #expect(sent.first?.packet.header.verificationTag == 0x1212_0002)
        #expect(H.messages(h.server).map(\.firstTSN) == [TSN(7000)])
    }

    @Test("COOKIE ECHO alone: the COOKIE ACK goes alone, at once")
    func cookieAckAlone() throws {
        let h = H(seed: 91)
        let taps = h.tap()
        let cookie = CookieEchoTableTests.cookie(h, localTag: 0x1313_0001, peerTag: 0x1313_0002)
        let packet = CookieEchoTableTests.echo(h, cookie, signer: h.server.endpoint.cookies)
        #expect(!packet.carriesData)
        h.inject(packet, into: h.server, from: clientAddress)
        #expect(taps.server.sent.map(\.packet.chunks) == [[.cookieAck(CookieAckChunk())]])
    }

    @Test("I-DATA counts as DATA for bundling")
    func iDataCarriesData() {
        let iData = IDataChunk(flags: .complete, tsn: TSN(1), streamIdentifier: 0, mid: MID(0), ppidOrFSN: 0,
                               payload: ByteBuffer(bytes: [1]))
        let packet = Craft.packet(from: 1, to: 2, tag: 3, [.cookieEcho(CookieEchoChunk(cookie: ByteBuffer(bytes: [0]))), .iData(iData)])
        #expect(packet.carriesData)
    }
}
