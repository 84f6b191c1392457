import NIOCore
import SCTPCore
import SCTPSimulation
import SCTPWire
import Testing

/// Drops the first datagram its participant sends that holds a chunk of a given type.
final class DropFirstParticipant: SimulationParticipant {
    let inner: EndpointParticipant
    let chunkType: UInt8
    private(set) var dropped = 0

    init(_ inner: EndpointParticipant, dropping chunkType: UInt8) {
        self.inner = inner
        self.chunkType = chunkType
    }

    var addresses: [IPAddress] { inner.addresses }
    var nextDeadline: SCTPInstant? { inner.nextDeadline }
    func handleTimeout(now: SCTPInstant) { inner.handleTimeout(now: now) }
    func receive(_ delivery: Delivery, now: SCTPInstant) { inner.receive(delivery, now: now) }

    func pollTransmit(now: SCTPInstant) -> OutgoingDatagram? {
        while let outgoing = inner.pollTransmit(now: now) {
            let chunks = (try? SCTPPacket(parsing: outgoing.datagram, checksum: .skipped))?.chunks ?? []
            if dropped == 0 && chunks.contains(where: { $0.type == chunkType }) {
                dropped += 1
                continue
            }
            return outgoing
        }
        return nil
    }
}

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
        let client = DropFirstParticipant(h.client, dropping: ShutdownCompleteChunk.chunkType)
        let loggedServer = RoutedParticipant(h.server, routes: [:])
        h.loop.participants = [client, loggedServer]
        #expect(h.run(for: .seconds(30)) { H.shutdownCompleted(h.server) || H.lost(h.server) != nil })
        #expect(client.dropped == 1)
        #expect(H.shutdownCompleted(h.client))
        #expect(H.messages(h.client).count == 1)
        #expect(H.lost(h.server) == nil, "the server's shutdown is not turned into an abort")
        #expect(H.shutdownCompleted(h.server))
        #expect(loggedServer.count(SackChunk.chunkType) == 0, "no SACK after the SHUTDOWN ACK")
        #expect(loggedServer.count(ShutdownAckChunk.chunkType) >= 2)
    }
}
