import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Found by the seeded sweep (seeds 632, 2283, 6491, 7157, 7213): a window-update SACK
/// owed when the application read in SHUTDOWN-RECEIVED went out in SHUTDOWN-ACK-SENT, after
/// the SHUTDOWN ACK. When the peer's SHUTDOWN COMPLETE was lost, that SACK found the peer
/// closed and drew an ABORT: the shutdown ended as an abort on our side.
@Suite("no SACK in SHUTDOWN-ACK-SENT")
struct ShutdownAckSentSackTests {
    typealias H = AssociationHarness

    @Test("a window update owed from SHUTDOWN-RECEIVED is not sent after the SHUTDOWN ACK")
    func noWindowUpdateAfterShutdownAck() throws {
        var server = SCTPConfiguration()
        server.receiveBufferSize = 8000  // a window update after reading 3000 bytes
        let h = H(seed: 92, serverConfiguration: server)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        // The server's application holds 3000 bytes unread.
        for index in 0..<3 {
            try h.client.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: index, length: 1000)),
                                       on: id, now: h.now)
        }
        h.loop.flushTransmits()
        #expect(h.run { H.messages(h.server).count == 3 && h.client.events.contains { if case .senderDry = $0.event { true } else { false } } })
        // The server has data in flight when the client's SHUTDOWN arrives: it stays in
        // SHUTDOWN-RECEIVED until that data is acknowledged.
        try h.server.endpoint.send(OutgoingMessage(streamIdentifier: 0, payload: testPayload(stream: 0, index: 9, length: 500)),
                                   on: serverID, now: h.now)
        try h.client.endpoint.shutdown(id, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(1)) { h.server.endpoint.state(of: serverID) == .shutdownReceived })
        // The application reads: a window update is owed but not sent in SHUTDOWN-RECEIVED.
        h.server.endpoint.consumed(bytes: 3000, on: serverID, now: h.now)
        // The client's SHUTDOWN COMPLETE is lost: the server must learn of the end from a
        // retransmitted SHUTDOWN ACK, not from an ABORT.
        let client = PacketFilterParticipant(h.client, rules: [(ShutdownCompleteChunk.chunkType, .drop)])
        let loggedServer = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [client, loggedServer]
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.server) || H.lost(h.server) != nil })
        #expect(client.applied == 1)
        #expect(H.shutdownCompleted(h.client))
        #expect(H.messages(h.client).count == 1)
        #expect(H.lost(h.server) == nil, "the server's shutdown is not turned into an abort")
        #expect(H.shutdownCompleted(h.server))
        #expect(loggedServer.countAcknowledgements() == 0, "no SACK after the SHUTDOWN ACK")
        #expect(loggedServer.count(ShutdownAckChunk.chunkType) >= 2)
    }
}

/// Found by the seeded sweep (seed 2283 and others): both sides shut down at once; our
/// SHUTDOWN, delayed, reached the peer after it had completed (and its SHUTDOWN COMPLETE was
/// lost or late), so the peer answered it as out of the blue, with an ABORT with the T bit.
/// In SHUTDOWN-ACK-SENT every byte both ways is acknowledged: that ABORT only says the peer
/// has closed, as its SHUTDOWN COMPLETE would have.
@Suite("an out-of-the-blue ABORT in SHUTDOWN-ACK-SENT")
struct ShutdownAckSentAbortTests {
    typealias H = AssociationHarness

    @Test("a reflected-tag ABORT in SHUTDOWN-ACK-SENT completes the shutdown")
    func reflectedAbortCompletesShutdown() throws {
        let h = H(seed: 93)
        let id = try h.connect()
        #expect(h.run { !H.upEvents(h.client).isEmpty && !H.upEvents(h.server).isEmpty })
        let serverID = try #require(H.upEvents(h.server).first)
        // The client's SHUTDOWN is held back 20 ms; the server's SHUTDOWN COMPLETE is lost.
        let client = PacketFilterParticipant(h.client, rules: [(ShutdownChunk.chunkType, .hold(.milliseconds(20)))])
        let server = PacketFilterParticipant(h.server, rules: [(ShutdownCompleteChunk.chunkType, .drop)])
        h.loop.participants = [client, server]
        let start = h.now
        try h.client.endpoint.shutdown(id, now: h.now)
        try h.server.endpoint.shutdown(serverID, now: h.now)
        h.loop.flushTransmits()
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.client) || H.lost(h.client) != nil })
        #expect(client.applied == 1 && server.applied == 1)
        #expect(H.shutdownCompleted(h.server))
        #expect(H.lost(h.client) == nil, "not reported as an abort")
        #expect(H.shutdownCompleted(h.client))
        // The ABORT ended it (about 30 ms in), not a SHUTDOWN COMPLETE drawn by T2 (1 s).
        let end = try #require(h.client.events.first { if case .shutdownComplete = $0.event { true } else { false } }?.time)
        #expect(end < start + .milliseconds(100))
    }
}
