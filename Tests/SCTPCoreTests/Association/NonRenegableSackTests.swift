import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// NR-SACK (chunk type 16, draft-natarajan-tsvwg-sctp-nrsack) between two of our endpoints on
/// the simulated network.
@Suite("non-renegable SACKs (NR-SACK)")
struct NonRenegableSackTests {
    typealias H = AssociationHarness

    @Test("NR-SACK is listed in INIT and INIT ACK and used when both ends list it; not with one side off nor with the WebRTC profile")
    func negotiation() throws {
        let h = H(seed: 1)
        let logged = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [h.client, logged]
        let (id, serverID) = try StreamReconfigurationTests.established(h)
        #expect(h.client.endpoint.usesNonRenegableSacks(id) == true)
        #expect(h.server.endpoint.usesNonRenegableSacks(serverID) == true)
        try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: ByteBuffer(string: "x")), on: id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 1 && h.client.endpoint.queuedBytes(on: id) == 0 })
        #expect(h.run(for: .seconds(2)) { logged.count(NRSackChunk.chunkType) > 0 })
        #expect(logged.count(SackChunk.chunkType) == 0, "only NR-SACKs once negotiated")

        var off = SCTPConfiguration()
        off.nonRenegableSacks = false
        let h2 = H(seed: 2, serverConfiguration: off)
        let (id2, serverID2) = try StreamReconfigurationTests.established(h2)
        #expect(h2.client.endpoint.usesNonRenegableSacks(id2) == false)
        #expect(h2.server.endpoint.usesNonRenegableSacks(serverID2) == false)

        var webRTC = SCTPConfiguration()
        webRTC.initProfile = .webRTC
        let h3 = H(seed: 3, clientConfiguration: webRTC)
        let (id3, _) = try StreamReconfigurationTests.established(h3)
        #expect(h3.client.endpoint.usesNonRenegableSacks(id3) == false)
    }

    @Test("behind a lost packet the receiver reports later DATA non-renegable and the sender frees it early; every message arrives once, in order")
    func freesEarly() throws {
        let h = H(seed: 4)
        let (id, _) = try StreamReconfigurationTests.established(h)
        // The first packet with DATA is lost: everything after it waits above a hole.
        let client = PacketFilterParticipant(h.client, rules: [(DataChunk.chunkType, .drop)])
        h.loop.participants = [client, h.server]
        for index in 0..<20 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payloadProtocolIdentifier: UInt32(index),
                                                       payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 20 })
        #expect(client.applied == 1)
        #expect(H.messages(h.server).map(\.payloadProtocolIdentifier) == Array(0..<20))
        let statistics = try #require(h.client.endpoint.statistics(of: id))
        #expect(statistics.nonRenegablyAckedChunks > 0)
        #expect(statistics.dataChunksRetransmitted >= 1)
    }
}
