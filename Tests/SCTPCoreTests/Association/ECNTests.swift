import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// ECN (RFC 9260 §7.2.5, Appendix A) on the simulated network, whose links mark datagrams CE
/// with `LinkConditions.congestionExperiencedProbability` (the mark a driver would read from
/// the IP header and pass to `SCTPEndpoint.handle(…congestionExperienced:)`).
@Suite("ECN: negotiation, ECN Echo, CWR")
struct ECNTests {
    typealias H = AssociationHarness

    static func announcesECN(_ chunk: Chunk) -> Bool? {
        switch chunk {
        case .initiation(let c): c.parameters.parameters.contains { if case .ecnCapable = $0 { true } else { false } }
        case .initiationAck(let c): c.parameters.parameters.contains { if case .ecnCapable = $0 { true } else { false } }
        default: nil
        }
    }

    /// The ECN Capable parameter of the INIT (client) and INIT ACK (server), and whether each
    /// side uses ECN, for the given settings.
    func negotiate(client: Bool, server: Bool) throws -> (initECN: Bool, initAckECN: Bool, clientUses: Bool, serverUses: Bool) {
        var clientConfiguration = SCTPConfiguration()
        clientConfiguration.ecn = client
        var serverConfiguration = SCTPConfiguration()
        serverConfiguration.ecn = server
        let h = H(seed: 61, clientConfiguration: clientConfiguration, serverConfiguration: serverConfiguration)
        let (loggedClient, loggedServer) = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        let initECN = try #require(loggedClient.sent.lazy.flatMap(\.chunks).compactMap(Self.announcesECN).first)
        let initAckECN = try #require(loggedServer.sent.lazy.flatMap(\.chunks).compactMap(Self.announcesECN).first)
        return (initECN, initAckECN, try #require(h.client.endpoint.status(of: id)).ecn,
                try #require(h.server.endpoint.status(of: serverID)).ecn)
    }

    @Test("ECN is on by default, announced in INIT and INIT ACK, and used when both sides announce it")
    func negotiatedByDefault() throws {
        #expect(SCTPConfiguration().ecn)
        let result = try negotiate(client: true, server: true)
        #expect(result.initECN && result.initAckECN)
        #expect(result.clientUses && result.serverUses)
    }

    @Test("off on either side: not announced by that side, not used by either", arguments: [(false, true), (true, false), (false, false)])
    func offOnOneSide(client: Bool, server: Bool) throws {
        let result = try negotiate(client: client, server: server)
        #expect(result.initECN == client && result.initAckECN == server)
        #expect(!result.clientUses && !result.serverUses)
    }

    @Test("packets carrying DATA of an ECN association go out ECN-capable (ECT(0)); control-only packets, and every packet without ECN, do not",
          arguments: [true, false])
    func dataPacketsMarkedECT(ecn: Bool) throws {
        var configuration = SCTPConfiguration()
        configuration.ecn = ecn
        let h = H(seed: 64, clientConfiguration: configuration)
        let (loggedClient, loggedServer) = h.logTraffic()
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        try transfer(h, id, count: 50)
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { h.client.events.contains { if case .shutdownComplete = $0.event { true } else { false } } })
        let all = loggedClient.sent + loggedServer.sent
        let withData = all.filter { $0.chunks.contains { $0.type == DataChunk.chunkType } }
        let controlOnly = all.filter { !$0.chunks.contains { $0.type == DataChunk.chunkType } }
        #expect(withData.count >= 50 && controlOnly.count > 5)
        #expect(withData.allSatisfy { $0.ecnCapable == ecn })
        #expect(!controlOnly.contains { $0.ecnCapable })
    }

    /// Sends `count` messages of 1000 bytes from the client and runs until they are delivered.
    func transfer(_ h: H, _ id: AssociationID, count: Int) throws {
        let before = H.messages(h.server).count
        for index in 0..<count {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(60)) { H.messages(h.server).count == before + count })
    }

    @Test("CE marks are echoed; the sender cuts cwnd once per window, without retransmitting, and answers with CWR")
    func cwndCutOncePerWindow() throws {
        let marked = LinkConditions(delay: .milliseconds(10), congestionExperiencedProbability: 1)
        let h = H(seed: 62, conditions: .init(delay: .milliseconds(10)))
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let (loggedClient, loggedServer) = h.logTraffic()
        let c = h.client.addresses[0], s = h.server.addresses[0]
        // Every packet to the server is marked.
        h.loop.network.addLink(from: c, to: s, conditions: marked)
        let start = h.now
        try transfer(h, id, count: 300)
        let elapsed = h.now - start
        let client = try #require(h.client.endpoint.statistics(of: id))
        let echoes = loggedServer.count(ECNEChunk.chunkType)
        #expect(echoes > 10, "the server echoes the marks with its SACKs")
        #expect(client.ecnEchoesReceived <= echoes && client.ecnEchoesReceived >= echoes - 2, "the last may be on its way")
        // One cut per window (about one round trip of 20 ms), not one per echo.
        let roundTrips = Int(elapsed.nanosecondsClamped / 20_000_000) + 1
        #expect(client.ecnWindowReductions >= 2)
        #expect(client.ecnWindowReductions <= roundTrips)
        #expect(client.ecnWindowReductions * 2 < client.ecnEchoesReceived, "several echoes per window, one cut")
        #expect(loggedClient.count(CWRChunk.chunkType) >= client.ecnWindowReductions)
        #expect(client.dataChunksRetransmitted == 0, "a cut, not a retransmission")
        let markedWindow = try #require(h.client.endpoint.status(of: id)?.paths.first?.congestionWindow)

        // The same transfer unmarked lets cwnd grow well beyond that.
        let h2 = H(seed: 62, conditions: .init(delay: .milliseconds(10)))
        let id2 = try h2.connect()
        #expect(h2.run { !H.upEvents(h2.client).isEmpty && !H.upEvents(h2.server).isEmpty })
        try transfer(h2, id2, count: 300)
        let freeWindow = try #require(h2.client.endpoint.status(of: id2)?.paths.first?.congestionWindow)
        #expect(h2.client.endpoint.statistics(of: id2)?.ecnWindowReductions == 0)
        #expect(markedWindow * 2 <= freeWindow, "cwnd \(markedWindow) with marks, \(freeWindow) without")
    }

    @Test("the receiver echoes in every SACK packet after a CE mark until a CWR covers it, then stops")
    func cwrEndsEcho() throws {
        let h = H(seed: 63, conditions: .init(delay: .milliseconds(10)))
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let (loggedClient, loggedServer) = h.logTraffic()
        let c = h.client.addresses[0], s = h.server.addresses[0]
        // Marks for the first 15 ms of a steady transfer only.
        h.loop.network.addLink(from: c, to: s, conditions: LinkConditions(delay: .milliseconds(10), congestionExperiencedProbability: 1))
        for index in 0..<20 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        h.run(for: .milliseconds(15)) { false }
        h.loop.network.addLink(from: c, to: s, conditions: LinkConditions(delay: .milliseconds(10)))
        // More data, sent while and after the echo is answered, keeps SACKs coming.
        for round in 0..<10 {
            h.run(for: .milliseconds(25)) { false }
            for index in 0..<4 {
                try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 100 + round * 4 + index, length: 1000)),
                                           on: id, now: h.now)
            }
            h.loop.flushTransmits()
        }
        #expect(h.run(for: .seconds(10)) { H.messages(h.server).count == 60 })

        let echoTimes = loggedServer.times(of: ECNEChunk.chunkType)
        let firstEcho = try #require(echoTimes.first)
        let firstCWR = try #require(loggedClient.times(of: CWRChunk.chunkType).first)
        let cwrArrives = firstCWR + .milliseconds(10)
        // Every SACK packet from the first echo until the CWR arrives carries the echo...
        let sackPackets = loggedServer.sent.filter { packet in packet.chunks.contains { isAcknowledgement($0.type) } }
        let whileOwed = sackPackets.filter { $0.time >= firstEcho && $0.time < cwrArrives }
        #expect(!whileOwed.isEmpty)
        #expect(whileOwed.allSatisfy { packet in packet.chunks.contains { $0.type == ECNEChunk.chunkType } })
        // ... and none after it (while SACKs go on).
        #expect(sackPackets.contains { $0.time > cwrArrives })
        #expect(echoTimes.allSatisfy { $0 < cwrArrives }, "no echo after the CWR")
        // A non-ECN chunk order: the echo follows the SACK, ahead of any DATA.
        for packet in sackPackets where packet.chunks.contains(where: { $0.type == ECNEChunk.chunkType }) {
            let types = packet.chunks.map(\.type)
            #expect(types.firstIndex(of: ECNEChunk.chunkType)! == types.firstIndex(where: isAcknowledgement)! + 1)
        }
    }

    @Test("without ECN in use, CE marks are not echoed")
    func noEchoWithoutECN() throws {
        var client = SCTPConfiguration()
        client.ecn = false
        let h = H(seed: 64, conditions: LinkConditions(delay: .milliseconds(10), congestionExperiencedProbability: 1),
                  clientConfiguration: client)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let (_, loggedServer) = h.logTraffic()
        try transfer(h, id, count: 50)
        #expect(loggedServer.countAcknowledgements() > 0)
        #expect(loggedServer.count(ECNEChunk.chunkType) == 0)
        #expect(h.loop.network.totalStatistics.congestionMarked > 0)
    }
}
